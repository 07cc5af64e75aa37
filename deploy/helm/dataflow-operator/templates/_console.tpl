{{/* The console's objects' name: <fullname>-console. */}}
{{- define "dataflow-operator.console.fullname" -}}
{{- printf "%s-console" (include "dataflow-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the console pods (its Service's selector). */}}
{{- define "dataflow-operator.console.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataflow-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: console
{{- end }}

{{/* Labels every console object carries. */}}
{{- define "dataflow-operator.console.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dataflow-operator.console.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The operator's /metrics as the console reads it: the metrics Service, or "0" without metrics. */}}
{{- define "dataflow-operator.console.metricsUrl" -}}
{{- if .Values.metrics.enabled }}
{{- printf "http://%s-metrics.%s.svc:%v/metrics" (include "dataflow-operator.fullname" .) .Release.Namespace (include "dataflow-operator.servicePort" .) }}
{{- else }}
{{- "0" }}
{{- end }}
{{- end }}

{{/*
What the console reads, and nothing else: DataFlows (its cache), the ConfigMap and Deployment of
one (by name), processor pods and their logs, Events. It never writes with this account: writes,
when enabled, carry the signed-in user's own token.
*/}}
{{- define "dataflow-operator.console.readRules" -}}
- apiGroups: ["dataflow.dataflow.io"]
  resources: ["dataflows"]
  verbs: ["list", "watch"]
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
- apiGroups: [""]
  resources: ["pods/log"]
  verbs: ["get"]
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["list"]
{{- end }}
