{{/* Chart name, shortened to the 63 characters that label values allow. */}}
{{- define "mason.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every object name: the release name, plus the chart name unless it contains it. */}}
{{- define "mason.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mason.operatorName" -}}
{{- printf "%s-operator" (include "mason.fullname" .) }}
{{- end }}

{{- define "mason.webhookName" -}}
{{- printf "%s-webhook" (include "mason.fullname" .) }}
{{- end }}

{{/* Labels on every object; pass a dict with "ctx" (the root) and "component". */}}
{{- define "mason.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: mason
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "mason.selectorLabels" . }}
{{- end }}

{{- define "mason.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mason.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image reference from a values image block; pass a dict with "ctx" and "image". */}}
{{- define "mason.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/* Pod and container security settings that meet the Pod Security "restricted" profile. */}}
{{- define "mason.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "mason.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "mason.webhookTLSSecret" -}}
{{- if eq .Values.webhook.tls.mode "secret" }}
{{- required "webhook.tls.existingSecret is required when webhook.tls.mode is secret" .Values.webhook.tls.existingSecret }}
{{- else }}
{{- printf "%s-tls" (include "mason.webhookName" .) }}
{{- end }}
{{- end }}
