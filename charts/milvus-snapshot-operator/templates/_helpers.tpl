{{/* Chart name, truncated to 63 characters (a label value). */}}
{{- define "mso.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefix of every resource: <release>-<chart>, or <release> when it already contains the chart name.
Truncated to 52 characters so that suffixes like "-restore-creator" still fit 63-character names.
*/}}
{{- define "mso.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mso.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mso.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mso.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mso.labels" -}}
helm.sh/chart: {{ include "mso.chart" . }}
{{ include "mso.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: milvus-snapshot-operator
{{- end }}

{{- define "mso.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mso.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mso.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* "true" when replicas share the work through Kopf peering (only one acts at a time). */}}
{{- define "mso.peering" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ end }}
{{- end }}

{{- define "mso.peeringName" -}}
{{- default (include "mso.fullname" .) .Values.peering.name }}
{{- end }}

{{/*
The operator's RBAC rules for one scope. Called with (dict "root" $ "clusterWide" bool).
Every rule is used by the operator; the reason is next to it (see also the chart README).
*/}}
{{- define "mso.operatorRules" -}}
{{- $root := .root -}}
# Kopf lists and watches the four kinds (daemons, indices, watch events) and patches them: finalizers,
# its progress annotations and, through the status subresource, the status. It never gets or updates them.
- apiGroups: ["snapshot.milvus.io"]
  resources: ["milvusconnections", "milvussnapshots", "milvusrestores", "milvussnapshotschedules"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["snapshot.milvus.io"]
  resources: ["milvusconnections/status", "milvussnapshots/status", "milvusrestores/status", "milvussnapshotschedules/status"]
  verbs: ["patch"]
# Schedules create their runs' MilvusSnapshots and delete the ones retention prunes (or a Replace run supersedes).
- apiGroups: ["snapshot.milvus.io"]
  resources: ["milvussnapshots"]
  verbs: ["create", "delete"]
# Credentials and CA bundles referenced by MilvusConnections (get), each watched on its own with a field
# selector on its name, so that a fixed Secret wakes the connections using it at once (list/watch); no
# other Secret is ever streamed to the operator.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
# Kubernetes Events on the custom resources (Kopf posts core/v1 Events; it never updates them).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
# Whether a watched namespace is being deleted: a snapshot whose credentials went first is then released with
# a Warning naming what is left behind, instead of blocking the namespace forever. (A Role in a namespace
# grants this for that namespace's own object.)
- apiGroups: [""]
  resources: ["namespaces"]
  verbs: ["get"]
{{- if $root.Values.rbac.milvusOperator }}
# status.endpoint of milvus-operator Milvus resources named by spec.milvusRef.
- apiGroups: ["milvus.io"]
  resources: ["milvuses"]
  verbs: ["get"]
{{- end }}
{{- if .clusterWide }}
# Kopf's resource discovery notices CRDs being added, upgraded or removed while it runs.
- apiGroups: ["apiextensions.k8s.io"]
  resources: ["customresourcedefinitions"]
  verbs: ["list", "watch"]
{{- end }}
{{- if include "mso.peering" $root }}
{{- $kind := ternary "clusterkopfpeerings" "kopfpeerings" .clusterWide }}
# Kopf peering: replicas watch the peering objects and keep their own entry alive in ours (patch).
- apiGroups: ["kopf.dev"]
  resources: [{{ $kind | quote }}]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ $kind | quote }}]
  resourceNames: [{{ include "mso.peeringName" $root | quote }}]
  verbs: ["patch"]
{{- end }}
{{- end }}
