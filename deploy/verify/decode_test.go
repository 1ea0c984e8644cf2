package verify

import (
	"bytes"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func decodeAll(t testing.TB, out []byte) manifests {
	t.Helper()
	m := manifests{
		serviceAccounts: map[string]*corev1.ServiceAccount{}, configMaps: map[string]*corev1.ConfigMap{},
		pvcs: map[string]*corev1.PersistentVolumeClaim{}, services: map[string]*corev1.Service{},
		deployments: map[string]*appsv1.Deployment{}, cronJobs: map[string]*batchv1.CronJob{},
		serviceMonitors: map[string]*monitoringv1.ServiceMonitor{}, prometheusRules: map[string]*monitoringv1.PrometheusRule{},
		networkPolicies: map[string]*networkingv1.NetworkPolicy{}, pdbs: map[string]*policyv1.PodDisruptionBudget{},
	}
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		var obj interface{ GetName() string }
		switch tm.APIVersion + " " + tm.Kind {
		case "v1 ServiceAccount":
			o := &corev1.ServiceAccount{}
			obj, m.serviceAccounts[name(doc)] = o, o
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			obj, m.configMaps[name(doc)] = o, o
		case "v1 PersistentVolumeClaim":
			o := &corev1.PersistentVolumeClaim{}
			obj, m.pvcs[name(doc)] = o, o
		case "v1 Service":
			o := &corev1.Service{}
			obj, m.services[name(doc)] = o, o
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			obj, m.deployments[name(doc)] = o, o
		case "batch/v1 CronJob":
			o := &batchv1.CronJob{}
			obj, m.cronJobs[name(doc)] = o, o
		case "monitoring.coreos.com/v1 ServiceMonitor":
			o := &monitoringv1.ServiceMonitor{}
			obj, m.serviceMonitors[name(doc)] = o, o
		case "monitoring.coreos.com/v1 PrometheusRule":
			o := &monitoringv1.PrometheusRule{}
			obj, m.prometheusRules[name(doc)] = o, o
		case "networking.k8s.io/v1 NetworkPolicy":
			o := &networkingv1.NetworkPolicy{}
			obj, m.networkPolicies[name(doc)] = o, o
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			obj, m.pdbs[name(doc)] = o, o
		default:
			t.Errorf("unexpected object %s %s", tm.APIVersion, tm.Kind)
			continue
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s %s: %v", tm.Kind, obj.GetName(), err)
		}
	}
	return m
}

func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	ft := &fakeT{}
	decodeAll(ft.wrap(t), []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: dep}\nspec:\n  replica: 1\n"))
	decodeAll(ft, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: svc}\nspec:\n  ports: [{name: metrics, port: 9102, targetPort: metrics, protocl: TCP}]\n"))
	decodeAll(ft, []byte("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: admin}\n"))
	for _, want := range []string{"Deployment dep: error unmarshaling JSON: while decoding JSON: json: unknown field \"replica\"", "Service svc: error unmarshaling JSON: while decoding JSON: json: unknown field \"protocl\"", "unexpected object rbac.authorization.k8s.io/v1 ClusterRole"} {
		if !strings.Contains(ft.errors, want) {
			t.Errorf("strict decoding missed %q; reported:\n%s", want, ft.errors)
		}
	}
}
