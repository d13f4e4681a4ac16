// Command baseline is the admission webhook that bench/webhook-bench.sh measures
// mason-webhook against: the same pod checks and defaults, written the way a team
// would write them with controller-runtime's webhook server and typed core/v1 Pods.
//
// It serves /mutate/pods and /validate/pods over TLS from CERT_DIR/tls.crt and
// CERT_DIR/tls.key. It runs the webhook server without a manager, so it opens no
// connection to an API server and keeps no informer caches.
//
// usage: baseline --listen 127.0.0.1:PORT --cert-dir DIR
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager/signals"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9443", "HOST:PORT to serve on (port 0 is not supported)")
	certDir := flag.String("cert-dir", "", "directory with tls.crt and tls.key")
	flag.Parse()
	log.SetLogger(zap.New())

	host, portText, err := net.SplitHostPort(*listen)
	if err != nil {
		fail("invalid --listen %q: %v", *listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		fail("invalid port in --listen %q: use 1 to 65535", *listen)
	}
	if *certDir == "" {
		fail("missing --cert-dir: set the directory that holds tls.crt and tls.key")
	}

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		fail("registering core/v1 failed: %v", err)
	}
	decoder := admission.NewDecoder(scheme)
	server := webhook.NewServer(webhook.Options{Host: host, Port: port, CertDir: *certDir})
	server.Register("/mutate/pods", &webhook.Admission{Handler: &podMutator{decoder: decoder}})
	server.Register("/validate/pods", &webhook.Admission{Handler: &podValidator{decoder: decoder}})
	if err := server.Start(signals.SetupSignalHandler()); err != nil {
		fail("webhook server stopped: %v", err)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "baseline: "+format+"\n", args...)
	os.Exit(1)
}
