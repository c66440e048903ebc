{{/* Names, capped at 63 characters: Kubernetes labels and DNS names allow no more. */}}
{{- define "oce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "oce.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "oce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "oce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "oce.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "oce.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "oce.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "oce.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding clouds.yaml: the user's, or the chart's. */}}
{{- define "oce.cloudsSecretName" -}}
{{- if .Values.openstack.existingSecret -}}
{{- .Values.openstack.existingSecret -}}
{{- else -}}
{{- printf "%s-clouds" (include "oce.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "oce.webConfigEnabled" -}}
{{- if or .Values.webConfig.existingSecret .Values.webConfig.config -}}true{{- end -}}
{{- end -}}

{{- define "oce.webConfigSecretName" -}}
{{- if .Values.webConfig.existingSecret -}}
{{- .Values.webConfig.existingSecret -}}
{{- else -}}
{{- printf "%s-web-config" (include "oce.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "oce.scheme" -}}
{{- if .Values.webConfig.scheme -}}
{{- .Values.webConfig.scheme -}}
{{- else if or .Values.webConfig.tlsSecret (and .Values.webConfig.config (hasKey .Values.webConfig.config "tls_server_config")) -}}
HTTPS
{{- else -}}
HTTP
{{- end -}}
{{- end -}}

{{/* Where the mounts live inside the container; the test and README refer to these. */}}
{{- define "oce.configDir" -}}/etc/openstack-capacity-exporter{{- end -}}
{{- define "oce.cloudsDir" -}}/etc/openstack{{- end -}}
