package main

import corev1 "k8s.io/api/core/v1"

func checkContainer(c *container, windows bool, v *violations) {
	sc := c.sc
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	checkContainerSecurity(c.path+".securityContext", sc, windows, v)
	for i, port := range c.ports {
		if port.HostPort != 0 {
			v.add("%s.ports[%d].hostPort: must be unset or 0", c.path, i)
		}
	}
	paths := map[string]bool{}
	for i, mount := range c.mounts {
		if paths[mount.MountPath] {
			v.add("%s.volumeMounts[%d].mountPath: %q is mounted twice", c.path, i, mount.MountPath)
		}
		paths[mount.MountPath] = true
	}
	for _, probe := range c.probes {
		if probe != nil {
			checkHandlerHost(c.path, probe.HTTPGet, probe.TCPSocket, v)
		}
	}
	if c.lifecycle != nil {
		for _, handler := range []*corev1.LifecycleHandler{c.lifecycle.PostStart, c.lifecycle.PreStop} {
			if handler != nil {
				checkHandlerHost(c.path+".lifecycle", handler.HTTPGet, handler.TCPSocket, v)
			}
		}
	}
}

func checkContainerSecurity(path string, sc *corev1.SecurityContext, windows bool, v *violations) {
	if sc.Privileged != nil && *sc.Privileged {
		v.add("%s.privileged: must be false", path)
	}
	if sc.ProcMount != nil && *sc.ProcMount != corev1.DefaultProcMount {
		v.add("%s.procMount: must be Default", path)
	}
	if sc.WindowsOptions != nil && sc.WindowsOptions.HostProcess != nil && *sc.WindowsOptions.HostProcess {
		v.add("%s.windowsOptions.hostProcess: must be false", path)
	}
	if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
		v.add("%s.runAsNonRoot: must be true", path)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		v.add("%s.runAsUser: must not be 0", path)
	}
	checkSELinux(path+".seLinuxOptions", sc.SELinuxOptions, v)
	checkAppArmor(path+".appArmorProfile", sc.AppArmorProfile, v)

	// The remaining fields are Linux-only, and the API server rejects them on Windows pods.
	if windows {
		return
	}
	if sc.SeccompProfile != nil && !isSeccompSafe(sc.SeccompProfile) {
		v.add("%s.seccompProfile.type: must be RuntimeDefault or Localhost", path)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		v.add("%s.allowPrivilegeEscalation: must be false", path)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		v.add("%s.readOnlyRootFilesystem: must be true", path)
	}
	if sc.RunAsGroup != nil && *sc.RunAsGroup == 0 {
		v.add("%s.runAsGroup: must not be 0", path)
	}
	checkCapabilities(path+".capabilities", sc.Capabilities, v)
}

func checkCapabilities(path string, caps *corev1.Capabilities, v *violations) {
	dropsAll := false
	if caps != nil {
		for _, c := range caps.Drop {
			dropsAll = dropsAll || c == "ALL"
		}
		for i, c := range caps.Add {
			if c != "NET_BIND_SERVICE" {
				v.add("%s.add[%d]: %s is not allowed; only NET_BIND_SERVICE may be added", path, i, c)
			}
		}
	}
	if !dropsAll {
		v.add("%s.drop: must include ALL", path)
	}
}

func checkHandlerHost(path string, httpGet *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, v *violations) {
	if httpGet != nil && httpGet.Host != "" {
		v.add("%s: httpGet.host must be unset", path)
	}
	if tcp != nil && tcp.Host != "" {
		v.add("%s: tcpSocket.host must be unset", path)
	}
}
