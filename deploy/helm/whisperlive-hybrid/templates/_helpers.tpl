{{/* Names, labels and the values derived from several settings. */}}

{{- define "whisperlive-hybrid.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix; component suffixes ("-worker-headless", 16 characters) must
still fit the 63-character DNS label, hence the shorter cut. */}}
{{- define "whisperlive-hybrid.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 47 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 47 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "whisperlive-hybrid.gateway.fullname" -}}
{{- include "whisperlive-hybrid.fullname" . }}-gateway
{{- end }}

{{- define "whisperlive-hybrid.worker.fullname" -}}
{{- include "whisperlive-hybrid.fullname" . }}-worker
{{- end }}

{{/* The workers' Service: headless, so its DNS name resolves to every ready worker pod. */}}
{{- define "whisperlive-hybrid.worker.headlessName" -}}
{{- include "whisperlive-hybrid.worker.fullname" . }}-headless
{{- end }}

{{/* GATEWAY_WORKER_ADDRESS: a dns:/// target that the gateway re-resolves, so it spreads
sessions over every worker pod and follows scale-out and scale-in. */}}
{{- define "whisperlive-hybrid.workerAddress" -}}
{{- printf "dns:///%s.%s.svc.%s:%d" (include "whisperlive-hybrid.worker.headlessName" .) .Release.Namespace .Values.clusterDomain (int .Values.worker.grpcPort) }}
{{- end }}

{{- define "whisperlive-hybrid.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "whisperlive-hybrid.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: {{ include "whisperlive-hybrid.name" . }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "worker"). */}}
{{- define "whisperlive-hybrid.selectorLabels" -}}
app.kubernetes.io/name: {{ include "whisperlive-hybrid.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "whisperlive-hybrid.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}

{{/* The worker's device: explicit, or cuda when the pod gets GPUs and cpu otherwise. */}}
{{- define "whisperlive-hybrid.worker.device" -}}
{{- $gpus := int .Values.worker.gpus }}
{{- $device := .Values.worker.device | default (ternary "cuda" "cpu" (gt $gpus 0)) }}
{{- if and (eq $device "cuda") (eq $gpus 0) }}
{{- fail "worker.device is \"cuda\" but worker.gpus is 0: give the worker GPUs or set worker.device to \"cpu\"" }}
{{- end }}
{{- $device }}
{{- end }}

{{/* The worker's log level: the gateway's "warn" is the worker's "warning". */}}
{{- define "whisperlive-hybrid.worker.logLevel" -}}
{{- ternary "warning" .Values.logLevel (eq .Values.logLevel "warn") }}
{{- end }}

{{/* terminationGracePeriodSeconds of one component: drain grace + preStop sleep + margin,
or the configured value, refused when it would kill the process mid-drain.
Call with (dict "root" $ "component" "worker" "values" .Values.worker "preStop" 0). */}}
{{- define "whisperlive-hybrid.terminationGracePeriod" -}}
{{- $drain := int (ceil .values.drainGraceSeconds) }}
{{- $margin := int .root.Values.terminationGraceMarginSeconds }}
{{- $needed := add $drain .preStop $margin }}
{{- $configured := .values.terminationGracePeriodSeconds }}
{{- if kindIs "invalid" $configured }}
{{- $needed }}
{{- else if lt (int $configured) (int $needed) }}
{{- fail (printf "%s.terminationGracePeriodSeconds (%d) is shorter than its drain: %s.drainGraceSeconds (%v)%s + terminationGraceMarginSeconds (%d) = %d s; Kubernetes would kill the %s before it drains. Raise it, or leave it empty to derive it" .component (int $configured) .component .values.drainGraceSeconds (ternary (printf " + preStopSleepSeconds (%d)" .preStop) "" (gt .preStop 0)) $margin (int $needed) .component) }}
{{- else }}
{{- int $configured }}
{{- end }}
{{- end }}

{{/* Pod-level security context of the restricted Pod Security Standard; call with the
uid the image runs as (its files are owned by it). */}}
{{- define "whisperlive-hybrid.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "whisperlive-hybrid.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
