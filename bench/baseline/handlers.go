package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// podValidator denies a pod that breaks the policy, naming every failing field.
type podValidator struct {
	decoder admission.Decoder
}

func (v *podValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := v.decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	violations := checkPod(pod)
	if len(violations) == 0 {
		return admission.Allowed("")
	}
	return admission.Denied("pod breaks the policy: " + strings.Join(violations, "; "))
}

// podMutator sets the safe defaults on unset fields and merges volumes of one claim.
type podMutator struct {
	decoder admission.Decoder
}

func (m *podMutator) Handle(_ context.Context, req admission.Request) admission.Response {
	pod := &corev1.Pod{}
	if err := m.decoder.Decode(req, pod); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if len(pod.Spec.Containers) == 0 {
		// Validation denies a pod without containers; there is nothing to harden.
		return admission.Allowed("")
	}
	harden(pod)
	mutated, err := json.Marshal(pod)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, mutated)
}
