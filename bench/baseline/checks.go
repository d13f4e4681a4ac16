package main

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Namespaced sysctls that the Pod Security Standards restricted profile allows.
var safeSysctls = map[string]bool{
	"kernel.shm_rmid_forced":              true,
	"net.ipv4.ip_local_port_range":        true,
	"net.ipv4.ip_unprivileged_port_start": true,
	"net.ipv4.tcp_syncookies":             true,
	"net.ipv4.ping_group_range":           true,
	"net.ipv4.ip_local_reserved_ports":    true,
	"net.ipv4.tcp_keepalive_time":         true,
	"net.ipv4.tcp_fin_timeout":            true,
	"net.ipv4.tcp_keepalive_intvl":        true,
	"net.ipv4.tcp_keepalive_probes":       true,
	"net.ipv4.tcp_rmem":                   true,
	"net.ipv4.tcp_wmem":                   true,
}

var selinuxTypes = map[string]bool{
	"": true, "container_t": true, "container_init_t": true,
	"container_kvm_t": true, "container_engine_t": true,
}

const appArmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

// container is the part of a container, init container or ephemeral container
// that the policy reads, with its field path.
type container struct {
	path      string
	sc        *corev1.SecurityContext
	ports     []corev1.ContainerPort
	mounts    []corev1.VolumeMount
	probes    []*corev1.Probe
	lifecycle *corev1.Lifecycle
}

type violations []string

func (v *violations) add(format string, args ...any) {
	*v = append(*v, fmt.Sprintf(format, args...))
}

func podContainers(spec *corev1.PodSpec) []container {
	var all []container
	for i := range spec.InitContainers {
		c := &spec.InitContainers[i]
		all = append(all, container{fmt.Sprintf("spec.initContainers[%d]", i), c.SecurityContext,
			c.Ports, c.VolumeMounts, []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe}, c.Lifecycle})
	}
	for i := range spec.Containers {
		c := &spec.Containers[i]
		all = append(all, container{fmt.Sprintf("spec.containers[%d]", i), c.SecurityContext,
			c.Ports, c.VolumeMounts, []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe}, c.Lifecycle})
	}
	for i := range spec.EphemeralContainers {
		c := &spec.EphemeralContainers[i].EphemeralContainerCommon
		all = append(all, container{fmt.Sprintf("spec.ephemeralContainers[%d]", i), c.SecurityContext,
			c.Ports, c.VolumeMounts, []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe}, c.Lifecycle})
	}
	return all
}

// checkPod returns every failing field of the pod, or nothing when it passes.
func checkPod(pod *corev1.Pod) violations {
	var v violations
	spec := &pod.Spec
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	windows := spec.OS != nil && spec.OS.Name == corev1.Windows
	containers := podContainers(spec)

	checkHostNamespaces(spec, &v)
	checkVolumes(spec, &v)
	checkPodSecurityContext(psc, windows, &v)
	checkAppArmorAnnotations(pod, &v)
	checkUserAndSeccomp(psc, containers, windows, &v)
	for i := range containers {
		checkContainer(&containers[i], windows, &v)
	}
	return v
}

func checkHostNamespaces(spec *corev1.PodSpec, v *violations) {
	if spec.HostNetwork {
		v.add("spec.hostNetwork: must be false")
	}
	if spec.HostPID {
		v.add("spec.hostPID: must be false")
	}
	if spec.HostIPC {
		v.add("spec.hostIPC: must be false")
	}
}

func checkVolumes(spec *corev1.PodSpec, v *violations) {
	claims := map[string]int{}
	for i, vol := range spec.Volumes {
		src := vol.VolumeSource
		allowed := src.ConfigMap != nil || src.CSI != nil || src.DownwardAPI != nil ||
			src.EmptyDir != nil || src.Ephemeral != nil || src.Image != nil ||
			src.PersistentVolumeClaim != nil || src.Projected != nil || src.Secret != nil
		if !allowed {
			v.add("spec.volumes[%d]: volume type is not allowed", i)
		}
		if src.PersistentVolumeClaim == nil {
			continue
		}
		name := src.PersistentVolumeClaim.ClaimName
		if first, seen := claims[name]; seen {
			v.add("spec.volumes[%d].persistentVolumeClaim.claimName: claim %q is also mounted by spec.volumes[%d]", i, name, first)
		} else {
			claims[name] = i
		}
	}
}

func checkPodSecurityContext(psc *corev1.PodSecurityContext, windows bool, v *violations) {
	for i, s := range psc.Sysctls {
		if !safeSysctls[s.Name] {
			v.add("spec.securityContext.sysctls[%d].name: %q is not allowed", i, s.Name)
		}
	}
	if psc.WindowsOptions != nil && psc.WindowsOptions.HostProcess != nil && *psc.WindowsOptions.HostProcess {
		v.add("spec.securityContext.windowsOptions.hostProcess: must be false")
	}
	checkSELinux("spec.securityContext.seLinuxOptions", psc.SELinuxOptions, v)
	checkAppArmor("spec.securityContext.appArmorProfile", psc.AppArmorProfile, v)
	if windows {
		return
	}
	if psc.RunAsGroup != nil && *psc.RunAsGroup == 0 {
		v.add("spec.securityContext.runAsGroup: must not be 0")
	}
	if psc.FSGroup == nil || *psc.FSGroup == 0 {
		v.add("spec.securityContext.fsGroup: must be set to a non-zero group")
	}
}

func checkSELinux(path string, opts *corev1.SELinuxOptions, v *violations) {
	if opts == nil {
		return
	}
	if !selinuxTypes[opts.Type] {
		v.add("%s.type: %q is not allowed", path, opts.Type)
	}
	if opts.User != "" {
		v.add("%s.user: must be unset", path)
	}
	if opts.Role != "" {
		v.add("%s.role: must be unset", path)
	}
}

func checkAppArmor(path string, profile *corev1.AppArmorProfile, v *violations) {
	if profile != nil && profile.Type != corev1.AppArmorProfileTypeRuntimeDefault &&
		profile.Type != corev1.AppArmorProfileTypeLocalhost {
		v.add("%s.type: must be RuntimeDefault or Localhost", path)
	}
}

func checkAppArmorAnnotations(pod *corev1.Pod, v *violations) {
	for key, value := range pod.Annotations {
		if strings.HasPrefix(key, appArmorAnnotationPrefix) && value != "runtime/default" &&
			!strings.HasPrefix(value, "localhost/") {
			v.add("metadata.annotations[%s]: must be runtime/default or localhost/*", key)
		}
	}
}

func isSeccompSafe(profile *corev1.SeccompProfile) bool {
	return profile.Type == corev1.SeccompProfileTypeRuntimeDefault ||
		profile.Type == corev1.SeccompProfileTypeLocalhost
}

// checkUserAndSeccomp applies the rules that a pod-level value can satisfy for
// every container: runAsNonRoot, runAsGroup and the seccomp profile.
func checkUserAndSeccomp(psc *corev1.PodSecurityContext, containers []container, windows bool, v *violations) {
	podNonRoot := psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	podGroup := psc.RunAsGroup != nil
	podSeccomp := psc.SeccompProfile != nil && isSeccompSafe(psc.SeccompProfile)
	if psc.RunAsNonRoot != nil && !*psc.RunAsNonRoot {
		v.add("spec.securityContext.runAsNonRoot: must be true")
	}
	if psc.RunAsUser != nil && *psc.RunAsUser == 0 {
		v.add("spec.securityContext.runAsUser: must not be 0")
	}
	if !windows && psc.SeccompProfile != nil && !podSeccomp {
		v.add("spec.securityContext.seccompProfile.type: must be RuntimeDefault or Localhost")
	}
	for _, c := range containers {
		sc := c.sc
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if sc.RunAsNonRoot == nil && !podNonRoot {
			v.add("%s.securityContext.runAsNonRoot: must be true on the pod or the container", c.path)
		}
		if windows {
			continue
		}
		if sc.RunAsGroup == nil && !podGroup {
			v.add("%s.securityContext.runAsGroup: must be set on the pod or the container", c.path)
		}
		if sc.SeccompProfile == nil && !podSeccomp {
			v.add("%s.securityContext.seccompProfile: must be set on the pod or the container", c.path)
		}
	}
}
