{{/* Names and labels. */}}
{{- define "podrouter.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "podrouter.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "podrouter.labels" -}}
app.kubernetes.io/name: {{ include "podrouter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "podrouter.configMapName" -}}
{{- printf "%s-config" (include "podrouter.fullname" .) -}}
{{- end -}}

{{- define "podrouter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
podrouter's config as the ConfigMap holds it: .Values.config, admin.bind from adminPort, plus the
demo's service and listeners when demo.enabled.
*/}}
{{- define "podrouter.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "admin" (dict "bind" (printf "0.0.0.0:%d" (int .Values.adminPort))) -}}
{{- if .Values.demo.enabled -}}
{{- $name := printf "%s-demo" (include "podrouter.fullname" .) -}}
{{- $services := default (dict) $config.services -}}
{{- $_ := set $services "demo" (dict "name" (printf "%s.%s.svc.cluster.local" $name .Release.Namespace) "discovery" "srv" "port_name" "http" "statefulset" $name "replicas" (int .Values.demo.replicas)) -}}
{{- $_ := set $config "services" $services -}}
{{- $listeners := default (list) $config.listeners -}}
{{- $byOrdinal := dict "name" "demo-by-ordinal" "bind" "127.0.0.1:18080" "protocol" "http" "service" "demo" "route" (dict "ordinal_header" "x-pod-ordinal") -}}
{{- $perPod := dict "name" "demo-per-pod" "bind" (printf "127.0.0.1:16000-%d" (add 16000 (sub (int .Values.demo.replicas) 1))) "protocol" "tcp" "service" "demo" "route" (dict "ordinal" "port_offset") -}}
{{- $_ := set $config "listeners" (concat $listeners (list $byOrdinal $perPod)) -}}
{{- end -}}
{{- if or (empty $config.services) (empty $config.listeners) -}}
{{- fail "podrouter: set config.services and config.listeners (see values.yaml), or demo.enabled=true" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
A pod template's metadata.annotations: the mark `podrouter inject` and the webhook set, and the
Prometheus scrape annotations.
*/}}
{{- define "podrouter.annotations" -}}
podrouter.io/injected: "true"
{{- if .Values.prometheusAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.adminPort | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{- define "podrouter.webhookName" -}}
{{- printf "%s-webhook" (include "podrouter.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The sidecar container. Include it in a pod template's containers (or, with nativeSidecar: true,
as the first of its initContainers):
  {{- include "podrouter.sidecar" . | nindent 8 }}
*/}}
{{- define "podrouter.sidecar" -}}
- name: podrouter
  image: {{ include "podrouter.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args: ["run", "--config", "/etc/podrouter/podrouter.yaml", "--log-level", {{ .Values.logLevel | quote }}]
  {{- if .Values.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  ports:
    - name: podrouter-admin
      containerPort: {{ .Values.adminPort }}
  readinessProbe:
    httpGet: {path: /ready, port: podrouter-admin}
    periodSeconds: 2
  livenessProbe:
    httpGet: {path: /healthz, port: podrouter-admin}
    periodSeconds: 10
  resources:
    {{- toYaml .Values.resources | nindent 4 }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities: {drop: [ALL]}
    seccompProfile: {type: RuntimeDefault}
  volumeMounts:
    - name: podrouter-config
      mountPath: /etc/podrouter
      readOnly: true
{{- end -}}

{{/* The sidecar's config volume, for a pod template's volumes. */}}
{{- define "podrouter.volumes" -}}
- name: podrouter-config
  configMap:
    name: {{ include "podrouter.configMapName" . }}
{{- end -}}
