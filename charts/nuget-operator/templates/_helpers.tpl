{{/* Names, labels and image references shared by the templates. */}}

{{- define "nuget-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `<release>-nuget-operator`, or the release name alone when it already contains the chart name. */}}
{{- define "nuget-operator.fullname" -}}
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

{{- define "nuget-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "nuget-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "nuget-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "nuget-operator.labels" -}}
helm.sh/chart: {{ include "nuget-operator.chart" . }}
{{ include "nuget-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: nuget
{{- end }}

{{- define "nuget-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "nuget-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "nuget-operator.leaseName" -}}
{{- default (include "nuget-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* `repository@digest`, else `repository:tag` with the tag defaulting to appVersion. Argument: (list $image $root). */}}
{{- define "nuget-operator.image" -}}
{{- $image := index . 0 }}
{{- $root := index . 1 }}
{{- if $image.digest }}
{{- printf "%s@%s" $image.repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $image.repository (default $root.Chart.AppVersion $image.tag) }}
{{- end }}
{{- end }}

{{/*
The rules the operator needs in every namespace it watches, one comment per rule (verified
by tests/tests/chart_install.rs: the operator runs with exactly these rules, and every verb
granted here is one it uses, per the API server's audit log).
*/}}
{{- define "nuget-operator.feedRules" -}}
# NuGetFeeds are the operator's input: list and watch fill its cache (it never GETs one
# alone); patch adds or removes the purge finalizer (deletionPolicy: Purge).
- apiGroups: [nuget-operator.io]
  resources: [nugetfeeds]
  verbs: [list, watch, patch]
# Status (conditions, URL, Secret names) is written by server-side apply on /status.
- apiGroups: [nuget-operator.io]
  resources: [nugetfeeds/status]
  verbs: [patch]
# Children carry owner references with blockOwnerDeletion, which clusters with the
# OwnerReferencesPermissionEnforcement admission plugin allow only to who may update the
# owner's finalizers.
- apiGroups: [nuget-operator.io]
  resources: [nugetfeeds/finalizers]
  verbs: [update]
# Secrets: get reads the storage credentials Secret a feed names (not the operator's, so not
# in its cache); create makes the generated API-key / read-token Secrets once; patch adds or
# removes their entries and server-side applies the hashed `<feed>-auth` Secret; list and watch
# feed the label-selected cache of the operator's own Secrets, from which it reads them (RBAC
# cannot narrow by label: use watchNamespaces to keep the operator away from other namespaces'
# Secrets); delete prunes a Secret the feed no longer needs.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch, create, patch, delete]
# The feed's other children are server-side applied (the first apply of an object needs
# create, every apply patch), listed and watched label-selected (cache and drift detection),
# and pruned when the spec no longer asks for them (delete). None is ever read alone.
# The feed server's ServiceAccount, its ConfigMap (config.yaml) and its Service.
- apiGroups: [""]
  resources: [serviceaccounts, configmaps, services]
  verbs: [list, watch, create, patch, delete]
# The feed server's Deployment.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, patch, delete]
# The feed's Ingress, and its NetworkPolicy (spec.networkPolicy.enabled).
- apiGroups: [networking.k8s.io]
  resources: [ingresses, networkpolicies]
  verbs: [list, watch, create, patch, delete]
# PodDisruptionBudgets of feeds with more than one replica (policy/v1, Kubernetes >= 1.21).
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
# Events about feeds (Provisioned, ApiKeyCreated, InvalidSpec, ...): each one created, never
# patched (the operator announces a repeating failure once instead of counting repeats).
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create]
{{- end }}
