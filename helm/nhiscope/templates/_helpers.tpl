{{/* SPDX-License-Identifier: Apache-2.0 */}}

{{- define "nhiscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name; components append -agent / -collector. */}}
{{- define "nhiscope.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "nhiscope.agent.fullname" -}}
{{- printf "%s-agent" (include "nhiscope.fullname" .) -}}
{{- end -}}

{{- define "nhiscope.collector.fullname" -}}
{{- printf "%s-collector" (include "nhiscope.fullname" .) -}}
{{- end -}}

{{- define "nhiscope.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "nhiscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nhiscope
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "agent"). */}}
{{- define "nhiscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nhiscope.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "nhiscope.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "nhiscope.agent.serviceAccountName" -}}
{{- if .Values.agent.serviceAccount.create -}}
{{- default (include "nhiscope.agent.fullname" .) .Values.agent.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.agent.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "nhiscope.collector.serviceAccountName" -}}
{{- if .Values.collector.serviceAccount.create -}}
{{- default (include "nhiscope.collector.fullname" .) .Values.collector.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.collector.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The TCP port of a metrics.listen value ("0.0.0.0:9750", "[::]:9750"), or ""
when metrics are off. A value without a port is an error here rather than
a crash-looping pod.
*/}}
{{- define "nhiscope.listenPort" -}}
{{- $listen := toString (default "" .listen) -}}
{{- if $listen -}}
{{- $port := regexFind ":[0-9]+$" $listen | trimPrefix ":" -}}
{{- if not $port -}}
{{- fail (printf "%s.config.metrics.listen %q has no :PORT" .component $listen) -}}
{{- end -}}
{{- $port -}}
{{- end -}}
{{- end -}}

{{/* The pod-list URL passed as --kubelet-url, or "" for none. */}}
{{- define "nhiscope.agent.podListURL" -}}
{{- $source := .Values.agent.podList.source -}}
{{- if eq $source "apiserver" -}}
https://kubernetes.default.svc/api/v1/pods?fieldSelector=spec.nodeName=$(NODE_NAME)&resourceVersion=0
{{- else if eq $source "kubelet" -}}
https://$(NODE_IP):10250/pods
{{- else if ne $source "config" -}}
{{- fail (printf "agent.podList.source must be apiserver, kubelet or config, not %q" $source) -}}
{{- end -}}
{{- end -}}

{{/*
Secret volumes and their mounts from a secretMounts list:
(dict "mounts" LIST "mode" DEFAULTMODE).
*/}}
{{- define "nhiscope.secretVolumes" -}}
{{- range .mounts }}
- name: {{ required "secretMounts[].name is required" .name }}
  secret:
    secretName: {{ required "secretMounts[].secretName is required" .secretName }}
    defaultMode: {{ default $.mode .defaultMode }}
    {{- with .items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "nhiscope.secretVolumeMounts" -}}
{{- range .mounts }}
- name: {{ .name }}
  mountPath: {{ required "secretMounts[].mountPath is required" .mountPath }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The Secret holding the fingerprint key: the user's, or the chart's. */}}
{{- define "nhiscope.agent.fingerprintSecret" -}}
{{- default (printf "%s-fingerprint" (include "nhiscope.agent.fullname" .)) .Values.agent.fingerprintKey.existingSecret -}}
{{- end -}}
