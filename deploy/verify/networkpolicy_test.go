package verify

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// checkNetworkPolicy checks that the daemon's pods are isolated for
// ingress and that the one rule admits only the metrics port, from
// selected pods of a selected namespace (never "everyone": /status is on
// that port too).
func checkNetworkPolicy(t *testing.T, m manifests, d *appsv1.Deployment) {
	t.Helper()
	np := m.networkPolicies["rotator"]
	if np == nil {
		t.Fatal("no NetworkPolicy rotator")
	}
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("NetworkPolicy: podSelector %v does not select the Deployment's pods %v", np.Spec.PodSelector, d.Spec.Template.Labels)
	}
	hasIngress := false
	for _, pt := range np.Spec.PolicyTypes {
		hasIngress = hasIngress || pt == networkingv1.PolicyTypeIngress
	}
	if !hasIngress {
		t.Errorf("NetworkPolicy: policyTypes %v lack Ingress: the pods are not isolated", np.Spec.PolicyTypes)
	}
	port := d.Spec.Template.Spec.Containers[0].Ports[0]
	for i, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("NetworkPolicy: ingress[%d] has no from: it admits every pod in the cluster", i)
		}
		for j, p := range r.From {
			if p.NamespaceSelector == nil || p.PodSelector == nil || len(p.NamespaceSelector.MatchLabels)+len(p.NamespaceSelector.MatchExpressions) == 0 ||
				len(p.PodSelector.MatchLabels)+len(p.PodSelector.MatchExpressions) == 0 || p.IPBlock != nil {
				t.Errorf("NetworkPolicy: ingress[%d].from[%d] %+v: want both a namespace and a pod selector, each non-empty", i, j, p)
			}
		}
		if len(r.Ports) != 1 || r.Ports[0].Port == nil ||
			(r.Ports[0].Port.StrVal != port.Name && r.Ports[0].Port.IntVal != port.ContainerPort) {
			t.Errorf("NetworkPolicy: ingress[%d] ports %+v, want only the container's %q port", i, r.Ports, port.Name)
		}
	}
	if len(np.Spec.Ingress) != 1 {
		t.Errorf("NetworkPolicy: %d ingress rules, want 1 (Prometheus)", len(np.Spec.Ingress))
	}
}
