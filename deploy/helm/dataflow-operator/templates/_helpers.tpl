{{/* The chart name, overridable. */}}
{{- define "dataflow-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: the release name when it already contains the chart name (so the usual
     `helm install dataflow-operator ...` gives objects named dataflow-operator). */}}
{{- define "dataflow-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "dataflow-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dataflow-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator pods (also the metrics Service's selector). */}}
{{- define "dataflow-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dataflow-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The ServiceAccount the operator runs as. */}}
{{- define "dataflow-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dataflow-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The watched namespaces as a JSON array: watchNamespaces, or the older single watchNamespace;
     [] means all namespaces (cluster mode). */}}
{{- define "dataflow-operator.watchNamespaces" -}}
{{- $list := .Values.watchNamespaces | default list }}
{{- if and (not $list) .Values.watchNamespace }}
{{- $list = list .Values.watchNamespace }}
{{- end }}
{{- $list | uniq | toJson }}
{{- end }}

{{/* Operator replicas: the Go chart's replicaCount when set, else replicas. */}}
{{- define "dataflow-operator.replicas" -}}
{{- if and (hasKey .Values "replicaCount") (not (kindIs "invalid" .Values.replicaCount)) }}
{{- .Values.replicaCount }}
{{- else }}
{{- .Values.replicas }}
{{- end }}
{{- end }}

{{/* The health port: the Go chart's health.probePort when set, else health.port. */}}
{{- define "dataflow-operator.healthPort" -}}
{{- if and (hasKey .Values.health "probePort") (not (kindIs "invalid" .Values.health.probePort)) }}
{{- .Values.health.probePort }}
{{- else }}
{{- .Values.health.port }}
{{- end }}
{{- end }}

{{/* The metrics Service's port: service.port when set, else metrics.port. */}}
{{- define "dataflow-operator.servicePort" -}}
{{- if and (hasKey .Values.service "port") (not (kindIs "invalid" .Values.service.port)) }}
{{- .Values.service.port }}
{{- else }}
{{- .Values.metrics.port }}
{{- end }}
{{- end }}

{{/* The processor image: processorImage, or ("" or unset) the operator's default for this version. */}}
{{- define "dataflow-operator.processorImage" -}}
{{- .Values.processorImage | default (printf "ghcr.io/dataflow-operator/dataflow:%s" .Chart.AppVersion) }}
{{- end }}

{{/* Values of the Go operator's chart that are accepted but change nothing here (for NOTES.txt). */}}
{{- define "dataflow-operator.ignoredValues" -}}
{{- $ignored := list }}
{{- if not (kindIs "invalid" (dig "processorProgressTimeoutSeconds" nil .Values.AsMap)) }}
{{- $ignored = append $ignored "processorProgressTimeoutSeconds (the processors this operator runs have no progress timeout)" }}
{{- end }}
{{- $ignored | toJson }}
{{- end }}

{{/*
Refuses what this chart cannot honour, naming the value and why (helm install/template fails with
the message): features of the Go operator's chart this operator does not have, a Lease name other
than its own, several replicas without leader election, a ServiceMonitor without metrics.
*/}}
{{- define "dataflow-operator.checkValues" -}}
{{- $v := .Values.AsMap }}
{{- if (dig "gui" "enabled" false $v) }}
{{- fail "gui.enabled: the Go operator's web GUI is not part of this chart (it is a separate application, dataflow-web); set gui.enabled=false" }}
{{- end }}
{{- if (dig "webhook" "enabled" false $v) }}
{{- fail "webhook.enabled: this operator has no admission webhook; the CRD's validation rules check every DataFlow at admission instead; set webhook.enabled=false" }}
{{- end }}
{{- if (dig "sentry" "enabled" false $v) }}
{{- fail "sentry.enabled: this operator does not report to Sentry (its errors are in its log, its Events and its metrics); set sentry.enabled=false" }}
{{- end }}
{{- if (dig "monitoring" "prometheusRule" "enabled" false $v) }}
{{- fail "monitoring.prometheusRule.enabled: this chart ships no PrometheusRule; set monitoring.prometheusRule.enabled=false" }}
{{- end }}
{{- $id := dig "leaderElection" "leaderElectionID" "" $v }}
{{- if and $id (ne $id "dataflow-operator.dataflow.io") }}
{{- fail (printf "leaderElection.leaderElectionID=%s: the Lease's name is fixed to dataflow-operator.dataflow.io (replicas of the Go operator and of this one must never hold two different Leases); remove the value" $id) }}
{{- end }}
{{- if and (not $v.leaderElection.enabled) (gt (int (include "dataflow-operator.replicas" .)) 1) }}
{{- fail (printf "leaderElection.enabled=false with %s replicas: every replica would reconcile every DataFlow; enable leader election or run 1 replica" (include "dataflow-operator.replicas" .)) }}
{{- end }}
{{- if and $v.serviceMonitor.enabled (not $v.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled: with metrics disabled there is nothing to scrape" }}
{{- end }}
{{- end }}
