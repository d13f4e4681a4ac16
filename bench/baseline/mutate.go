package main

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
)

const safeID int64 = 10000

func boolPtr(b bool) *bool    { return &b }
func int64Ptr(i int64) *int64 { return &i }

// harden sets the safe value on every unset field and never changes a set one,
// because validation rejects a set value that is unsafe. A Windows pod gets only
// runAsNonRoot because the API server rejects the Linux-only fields on it.
func harden(pod *corev1.Pod) {
	spec := &pod.Spec
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := spec.SecurityContext
	if psc.RunAsNonRoot == nil {
		psc.RunAsNonRoot = boolPtr(true)
	}
	if spec.OS != nil && spec.OS.Name == corev1.Windows {
		return
	}
	if psc.RunAsUser == nil {
		psc.RunAsUser = int64Ptr(safeID)
	}
	if psc.RunAsGroup == nil {
		psc.RunAsGroup = int64Ptr(safeID)
	}
	if psc.FSGroup == nil {
		psc.FSGroup = int64Ptr(safeID)
	}
	if psc.SeccompProfile == nil {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	}
	for i := range spec.InitContainers {
		spec.InitContainers[i].SecurityContext = hardenContainer(spec.InitContainers[i].SecurityContext)
	}
	for i := range spec.Containers {
		spec.Containers[i].SecurityContext = hardenContainer(spec.Containers[i].SecurityContext)
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i]
		c.SecurityContext = hardenContainer(c.SecurityContext)
	}
	mergeClaimVolumes(spec)
}

func hardenContainer(sc *corev1.SecurityContext) *corev1.SecurityContext {
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	privileged := sc.Privileged != nil && *sc.Privileged
	if sc.AllowPrivilegeEscalation == nil && !privileged && !addsCapability(sc, "SYS_ADMIN") {
		sc.AllowPrivilegeEscalation = boolPtr(false)
	}
	if sc.Capabilities == nil {
		sc.Capabilities = &corev1.Capabilities{}
	}
	if !dropsCapability(sc, "ALL") {
		sc.Capabilities.Drop = append(sc.Capabilities.Drop, "ALL")
	}
	if sc.ReadOnlyRootFilesystem == nil {
		sc.ReadOnlyRootFilesystem = boolPtr(true)
	}
	return sc
}

func addsCapability(sc *corev1.SecurityContext, name corev1.Capability) bool {
	if sc.Capabilities == nil {
		return false
	}
	for _, c := range sc.Capabilities.Add {
		if c == name {
			return true
		}
	}
	return false
}

func dropsCapability(sc *corev1.SecurityContext, name corev1.Capability) bool {
	for _, c := range sc.Capabilities.Drop {
		if c == name {
			return true
		}
	}
	return false
}

// mergeClaimVolumes keeps the first of the volumes that reference one claim
// with the same settings, removes the others and re-points their mounts.
func mergeClaimVolumes(spec *corev1.PodSpec) {
	first := map[string]int{}
	renamed := map[string]string{}
	remaining := spec.Volumes[:0]
	for _, vol := range spec.Volumes {
		claim := vol.PersistentVolumeClaim
		if claim == nil {
			remaining = append(remaining, vol)
			continue
		}
		i, seen := first[claim.ClaimName]
		if seen && equality.Semantic.DeepEqual(remaining[i].PersistentVolumeClaim, claim) {
			renamed[vol.Name] = remaining[i].Name
			continue
		}
		if !seen {
			first[claim.ClaimName] = len(remaining)
		}
		remaining = append(remaining, vol)
	}
	spec.Volumes = remaining
	if len(renamed) == 0 {
		return
	}
	repoint := func(mounts []corev1.VolumeMount) {
		for i := range mounts {
			if to, ok := renamed[mounts[i].Name]; ok {
				mounts[i].Name = to
			}
		}
	}
	for i := range spec.InitContainers {
		repoint(spec.InitContainers[i].VolumeMounts)
	}
	for i := range spec.Containers {
		repoint(spec.Containers[i].VolumeMounts)
	}
	for i := range spec.EphemeralContainers {
		repoint(spec.EphemeralContainers[i].VolumeMounts)
	}
}
