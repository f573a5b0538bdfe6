{{/*
Labels on every object of the release.
*/}}
{{- define "fakegpu.labels" -}}
app.kubernetes.io/name: fakegpu
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/*
Every role the chart runs, as YAML: its values key, workload and container name, command line, whether it
is enabled when its values block has no `enabled` (values reused from a release that predates the role),
whether it is leader-elected (then the chart creates its Lease, which it may get and update), extra pod
labels, HTTP port, and its RBAC: `clusterRules` (ClusterRole) and `namespaceRules` (Role in the release
namespace). Only the verbs the role's code uses (a server-side apply that creates the object also
needs create); README.md "Roles" and tests/helm/rbac_expectations.ts
list the same.
*/}}
{{- define "fakegpu.roles" -}}
- key: statusUpdater
  name: status-updater
  workload: status-updater
  args: [status-updater, --topology-configmap=topology]
  enabledByDefault: true
  leaderElect: true
  clusterRules:
    - {apiGroups: [""], resources: [nodes], verbs: [list, watch, patch]}
    - {apiGroups: [""], resources: [pods], verbs: [list, watch, patch]}
    - {apiGroups: [""], resources: [events], verbs: [create]}
    - {apiGroups: [resource.k8s.io], resources: [resourceclaims], verbs: [list, watch]}
  namespaceRules:
    - {apiGroups: [""], resources: [configmaps], verbs: [list, watch, create, patch, delete]}
- key: devicePlugin
  name: device-plugin
  workload: kwok-gpu-device-plugin
  args: [device-plugin, --node-scope=kwok, --topology-configmap=topology]
  enabledByDefault: true
  leaderElect: true
  clusterRules:
    - {apiGroups: [""], resources: [nodes], verbs: [get, list, watch, patch]}
    - {apiGroups: [""], resources: [nodes/status], verbs: [patch]}
    - {apiGroups: [""], resources: [pods], verbs: [list, watch, patch]}
    - {apiGroups: [""], resources: [events], verbs: [create]}
  namespaceRules:
    - {apiGroups: [""], resources: [configmaps], verbs: [list, watch]}
- key: dcgmExporter
  name: dcgm-exporter
  workload: nvidia-dcgm-exporter
  args: [dcgm-exporter, --node-scope=kwok]
  enabledByDefault: true
  leaderElect: false
  podLabels: {app: nvidia-dcgm-exporter}
  port: 9400
  clusterRules: []
  namespaceRules:
    - {apiGroups: [""], resources: [configmaps], verbs: [list, watch]}
- key: draPlugin
  name: dra-plugin
  workload: kwok-dra-plugin
  args: [dra-plugin, --node-scope=kwok, --topology-configmap=topology]
  enabledByDefault: false
  leaderElect: true
  clusterRules:
    - {apiGroups: [""], resources: [nodes], verbs: [list, watch]}
    - {apiGroups: [""], resources: [events], verbs: [create]}
    - {apiGroups: [resource.k8s.io], resources: [resourceslices], verbs: [list, watch, create, update, delete]}
    - {apiGroups: [resource.k8s.io], resources: [deviceclasses], verbs: [get, create]}
  namespaceRules:
    - {apiGroups: [""], resources: [configmaps], verbs: [list, watch]}
{{- end }}

{{/*
The values block of a role (an empty dict when the values have none). Call with (list $ $role).
*/}}
{{- define "fakegpu.roleValues" -}}
{{- $root := index . 0 }}{{ $role := index . 1 -}}
{{- toYaml (index $root.Values $role.key | default dict) -}}
{{- end }}

{{/*
Whether a role is enabled: its `enabled` value, else the role's default. Call with (list $ $role);
renders "true" or "".
*/}}
{{- define "fakegpu.enabled" -}}
{{- $root := index . 0 }}{{ $role := index . 1 -}}
{{- $values := include "fakegpu.roleValues" . | fromYaml -}}
{{- if hasKey $values "enabled" }}{{ if $values.enabled }}true{{ end }}{{ else if $role.enabledByDefault }}true{{ end -}}
{{- end }}

{{/*
The name of a role's cluster-scoped RBAC objects, unique per namespace: fakegpu:<namespace>:<role>.
*/}}
{{- define "fakegpu.clusterScopedName" -}}
{{- $root := index . 0 }}{{ $role := index . 1 -}}
fakegpu:{{ $root.Release.Namespace }}:{{ $role.name }}
{{- end }}

{{/*
Labels selecting a role's pods.
*/}}
{{- define "fakegpu.selectorLabels" -}}
{{- $root := index . 0 }}{{ $role := index . 1 -}}
app.kubernetes.io/name: fakegpu
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $role.name }}
{{- end }}

{{/*
The image of a role as YAML (repository, tag, pullPolicy): its own `image` fields over the top-level
`image`; the tag defaults to the chart's appVersion. Call with (list $ <role values>).
*/}}
{{- define "fakegpu.image" -}}
{{- $root := index . 0 }}{{ $values := index . 1 -}}
{{- $image := merge (deepCopy ($values.image | default dict)) ($root.Values.image | default dict) -}}
repository: {{ $image.repository | default "fakegpu" }}
tag: {{ $image.tag | default $root.Chart.AppVersion | toString | quote }}
pullPolicy: {{ $image.pullPolicy | default "IfNotPresent" }}
{{- end }}

{{/*
The fleet topology the ConfigMap holds: `cluster` when set, else `topology`; the chart's default pools when
neither names a pool.
*/}}
{{- define "fakegpu.topology" -}}
{{- $chosen := deepCopy (.Values.topology | default dict) -}}
{{- if .Values.cluster }}{{ $chosen = deepCopy .Values.cluster }}{{ end -}}
{{- if not $chosen.nodePools -}}
{{- $_ := set $chosen "nodePools" (.Files.Get "files/default-topology.yml" | fromYaml).nodePools -}}
{{- end -}}
{{- toYaml $chosen -}}
{{- end }}

{{/*
One role of the table, by values key. Call with (list $ "<key>").
*/}}
{{- define "fakegpu.role" -}}
{{- $key := index . 1 -}}
{{- range include "fakegpu.roles" (index . 0) | fromYamlArray }}{{ if eq .key $key }}{{ toYaml . }}{{ end }}{{ end -}}
{{- end }}
