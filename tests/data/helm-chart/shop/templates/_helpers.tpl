{{- define "shop.labels" -}}
app.kubernetes.io/part-of: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
