{{/* The chart name, and the name of every object: the release name when it
     contains "rotator", else <release>-rotator. */}}
{{- define "rotator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rotator.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "rotator.component" -}}
{{- if eq .Values.mode "run-now" }}run-now{{ else }}daemon{{ end }}
{{- end }}

{{- define "rotator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: {{ include "rotator.component" . }}
{{- end }}

{{- define "rotator.labels" -}}
app.kubernetes.io/name: {{ include "rotator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "rotator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "rotator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rotator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rotator.credentialsSecret" -}}
{{- if .Values.credentials.existingSecret }}
{{- .Values.credentials.existingSecret }}
{{- else if .Values.credentials.inline }}
{{- include "rotator.fullname" . }}-credentials
{{- else }}
{{- fail "set credentials.existingSecret (a Secret you create, one key per file the policy reads) or credentials.inline" }}
{{- end }}
{{- end }}

{{- define "rotator.claimName" -}}
{{- default (printf "%s-state" (include "rotator.fullname" .)) .Values.persistence.existingClaim }}
{{- end }}

{{/* The pod spec the Deployment and the CronJob share. */}}
{{- define "rotator.podSpec" -}}
serviceAccountName: {{ include "rotator.serviceAccountName" . }}
# Vault's Kubernetes auth reads the service account token.
automountServiceAccountToken: true
enableServiceLinks: false
# The daemon finishes or checkpoints its in-flight step on SIGTERM.
terminationGracePeriodSeconds: 120
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: 65532
  runAsGroup: 65532
  fsGroup: 65532
  fsGroupChangePolicy: OnRootMismatch
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: rotator
    image: {{ include "rotator.image" . | quote }}
    imagePullPolicy: {{ .Values.image.pullPolicy }}
    {{- if eq .Values.mode "run-now" }}
    args: ["--config", "/etc/rotator/rotator.yaml", "--run-now", "--due-only", "--log-format", "json"]
    {{- else }}
    args: ["--config", "/etc/rotator/rotator.yaml", "--log-format", "json"]
    {{- end }}
    env:
      # Keep the Go heap under the memory limit.
      - name: GOMEMLIMIT
        valueFrom:
          resourceFieldRef:
            resource: limits.memory
            divisor: "1"
    {{- if ne .Values.mode "run-now" }}
    ports:
      - name: metrics
        containerPort: 9102
        protocol: TCP
    startupProbe:
      httpGet:
        path: /healthz
        port: metrics
      periodSeconds: 5
      failureThreshold: 36
    livenessProbe:
      httpGet:
        path: /healthz
        port: metrics
      periodSeconds: 20
      timeoutSeconds: 5
      failureThreshold: 3
    readinessProbe:
      httpGet:
        path: /readyz
        port: metrics
      periodSeconds: 10
      timeoutSeconds: 5
    {{- end }}
    resources:
      {{- toYaml .Values.resources | nindent 6 }}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      runAsNonRoot: true
      capabilities:
        drop: ["ALL"]
    volumeMounts:
      - name: config
        mountPath: /etc/rotator/rotator.yaml
        subPath: rotator.yaml
        readOnly: true
      - name: credentials
        mountPath: /etc/rotator/credentials
        readOnly: true
      - name: state
        mountPath: /var/lib/rotator
      - name: tmp
        mountPath: /tmp
volumes:
  - name: config
    configMap:
      name: {{ include "rotator.fullname" . }}-config
  - name: credentials
    secret:
      secretName: {{ include "rotator.credentialsSecret" . }}
      defaultMode: 0440
  - name: state
    persistentVolumeClaim:
      claimName: {{ include "rotator.claimName" . }}
  - name: tmp
    emptyDir:
      medium: Memory
      sizeLimit: 16Mi
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod annotations: a policy or inline-credentials change rolls the pod. */}}
{{- define "rotator.podAnnotations" -}}
checksum/policy: {{ .Values.policy | sha256sum }}
{{- if .Values.credentials.inline }}
checksum/credentials: {{ toYaml .Values.credentials.inline | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}
