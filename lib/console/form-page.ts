/**
 * The create and edit forms: the DataFlow as YAML (or JSON) in a text area. When the API server
 * refuses it, each of its messages is shown under the line of the field it names (and listed at
 * the top, linking there); the text area keeps what the user typed.
 */
import { type Html, html } from "./html.ts";
import { dataflowPath, toYaml } from "./format.ts";
import { csrfField, renderPage, type Viewer } from "./layout.ts";
import type { FieldError } from "./writes.ts";
import { fieldLine } from "./yaml-fields.ts";

/** What a new DataFlow starts as (a Kafka topic to another topic; edit at will). */
export function newDataFlowYaml(namespace = "default"): string {
  return toYaml({
    apiVersion: "dataflow.dataflow.io/v1",
    kind: "DataFlow",
    metadata: { name: "my-dataflow", namespace },
    spec: {
      source: {
        type: "kafka",
        kafka: { brokers: ["kafka-0.kafka:9092"], topic: "input", consumerGroup: "my-dataflow" },
      },
      sink: { type: "kafka", kafka: { brokers: ["kafka-0.kafka:9092"], topic: "output" } },
    },
  });
}

interface Placed extends FieldError {
  id: string;
  line?: number;
}

/** The text's lines with each field's messages right under the line of that field. */
function annotated(text: string, placed: Placed[]): Html {
  const byLine = new Map<number, Placed[]>();
  for (const p of placed) if (p.line !== undefined) byLine.set(p.line, [...(byLine.get(p.line) ?? []), p]);
  const lines = text.split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return html`<ol class="source" aria-label="Your DataFlow, with the API server's messages under the lines they name">
${
    lines.map((line, i) => {
      const errs = byLine.get(i + 1) ?? [];
      return html`
        <li class="line${errs.length ? " has-error" : ""}"
          id="line-${i + 1}"><span class="no">${i + 1}</span>${line}</li>${errs.map((e) =>
            html`
              <li class="field-error" id="${e.id}" data-field="${e.field ?? ""}"
                role="note"><span class="sr-only">${e.field}: </span>${e.message}</li>
            `
          )}
      `;
    })
  }</ol>`;
}

/** The create or edit page, empty or with the API server's refusal. */
export function renderFormPage(options: {
  viewer: Viewer;
  mode: "create" | "edit";
  /** The DataFlow being edited (edit only). */
  target?: { namespace: string; name: string };
  text: string;
  errors?: FieldError[];
}): string {
  const { viewer, mode, target, text } = options;
  const placed: Placed[] = (options.errors ?? []).map((e, i) => ({
    ...e,
    id: `error-${i + 1}`,
    line: e.field ? fieldLine(text, e.field) : undefined,
  }));
  const action = mode === "create" ? "/new" : dataflowPath(target!.namespace, target!.name, "/edit");
  const title = mode === "create" ? "New DataFlow" : `Edit ${target!.namespace}/${target!.name}`;
  const summary = placed.length
    ? html`<div class="banner error" role="alert" id="errors"><strong>The ${
      mode === "create" ? "DataFlow was not created" : "change was not saved"
    }.</strong>
<ul class="errors">${
      placed.map((p) =>
        html`<li data-field="${p.field ?? ""}">${
          p.field
            ? p.line !== undefined
              ? html`
                <a href="#${p.id}"><code>${p.field}</code></a>:
              `
              : html`
                <code>${p.field}</code>:
              `
            : ""
        }${p.message}</li>`
      )
    }</ul></div>
${placed.some((p) => p.line !== undefined) && annotated(text, placed)}`
    : "";
  const content = html`<p><a href="${
    mode === "create" ? "/" : dataflowPath(target!.namespace, target!.name)
  }">← back</a></p>
<h1>${title}</h1>
${summary}
<form method="post" action="${action}">
${csrfField(viewer)}
<p><label for="yaml">The DataFlow as YAML or JSON. The API server checks it${
    mode === "edit" ? " (and refuses it if someone changed the DataFlow since this page was opened)" : ""
  }; writes go as <strong>${viewer.user ?? "you"}</strong>.</label></p>
<textarea id="yaml" name="yaml" rows="${
    Math.min(40, Math.max(16, text.split("\n").length + 2))
  }" spellcheck="false"${
    placed.length
      ? html`
        aria-describedby="errors" aria-invalid="true"
      `
      : ""
  }>${text}</textarea>
<p class="actions"><button type="submit" class="primary">${mode === "create" ? "Create" : "Save"}</button></p>
</form>`;
  return renderPage({ title, nav: mode === "create" ? "new" : "dataflows", viewer }, content);
}
