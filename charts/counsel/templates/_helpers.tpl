{{/*
Name helpers. Every resource of a process is named counsel-<process> (e.g. counsel-catalog), which is
also the DNS name peers dial (COUNSEL_CATALOG_ADDR=counsel-catalog:50051).
*/}}
{{- define "counsel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* counsel-<component>; call with (list $ "<component>") */}}
{{- define "counsel.componentName" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- printf "%s-%s" (include "counsel.name" $root) $component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "counsel.configName" -}}
{{- include "counsel.componentName" (list . "config") -}}
{{- end -}}

{{- define "counsel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select one component's pods; call with (list $ "<component>") */}}
{{- define "counsel.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
app.kubernetes.io/name: {{ include "counsel.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $component }}
{{- end -}}

{{/* All labels of a component's resources; call with (list $ "<component>") */}}
{{- define "counsel.labels" -}}
{{- $root := index . 0 -}}
{{ include "counsel.selectorLabels" . }}
app.kubernetes.io/part-of: counsel
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
{{- with $root.Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
helm.sh/chart: {{ include "counsel.chart" $root }}
{{- end -}}

{{/* repository:tag, the tag defaulting to the chart's appVersion */}}
{{- define "counsel.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) -}}
{{- end -}}

{{/* The port Prometheus scrapes: metrics if the process has one, else its HTTP port; call with a services entry */}}
{{- define "counsel.scrapePort" -}}
{{- if .ports.metrics -}}
{{- .ports.metrics -}}
{{- else -}}
{{- .ports.http -}}
{{- end -}}
{{- end -}}

{{/* envFrom shared by every process and the migrate job */}}
{{- define "counsel.envFromSecret" -}}
- secretRef:
    name: {{ required "existingSecret: name an existing Secret holding the COUNSEL_* secrets" .Values.existingSecret }}
{{- end -}}

{{/* envFrom of one process's own NATS user (COUNSEL_NATS_USER, _PASSWORD); call with (list $ "<process>") */}}
{{- define "counsel.envFromNats" -}}
{{- $root := index . 0 -}}
{{- $process := index . 1 -}}
- secretRef:
    name: {{ include "counsel.componentName" (list $root (printf "%s-%s" $process $root.Values.natsCredentials.secretSuffix)) }}
    optional: {{ $root.Values.natsCredentials.optional }}
{{- end -}}

{{/* A services entry's replicas, 1 when unset (0 stays 0, unlike `default`); call with a services entry */}}
{{- define "counsel.replicas" -}}
{{- if hasKey . "replicas" -}}
{{- int .replicas -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* COUNSEL_DATABASE_URL of a process that owns a database, as its own role on the bundled PostgreSQL (through
the Pooler when there is one); nothing with an external PostgreSQL (existingSecret holds the URL). The password
comes from the role's basic-auth Secret; Kubernetes expands $(COUNSEL_DATABASE_PASSWORD) in the next variable.
Call with (list $ "<process>") */}}
{{- define "counsel.databaseEnv" -}}
{{- $root := index . 0 -}}
{{- $process := index . 1 -}}
{{- if $root.Values.postgresql.bundled -}}
{{- $cluster := include "counsel.componentName" (list $root "pg") -}}
{{- $host := ternary (printf "%s-pooler-rw" $cluster) (printf "%s-rw" $cluster) $root.Values.postgresql.pooler.enabled -}}
- name: COUNSEL_DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "counsel.componentName" (list $root (printf "pg-%s" $process)) }}
      key: password
- name: COUNSEL_DATABASE_URL
  value: {{ printf "postgresql://counsel_%s:$(COUNSEL_DATABASE_PASSWORD)@%s:5432" $process $host | quote }}
{{- end -}}
{{- end -}}

{{/* Where a process's pods go: spread over nodes and zones, and preferably never two on one node.
Call with (list $ "<process>") */}}
{{- define "counsel.placement" -}}
{{- $root := index . 0 -}}
{{- $process := index . 1 -}}
{{- with $root.Values.topologySpread -}}
{{- if .enabled }}
topologySpreadConstraints:
  - maxSkew: {{ .maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "counsel.selectorLabels" (list $root $process) | nindent 8 }}
  - maxSkew: {{ .maxSkew }}
    topologyKey: {{ .zoneKey }}
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "counsel.selectorLabels" (list $root $process) | nindent 8 }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "counsel.selectorLabels" (list $root $process) | nindent 14 }}
{{- end }}
{{- end -}}
{{- end -}}
