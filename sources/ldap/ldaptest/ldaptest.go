// Package ldaptest runs real, throwaway directory servers on loopback for
// the LDAP source's tests and benchmarks: OpenLDAP slapd (a temporary
// slapd.conf, mdb, the memberof and syncprov overlays, generated people and
// groups bulk-loaded with slapadd) and a Samba AD domain controller
// provisioned into a temporary directory. Nothing here touches a system
// service or /etc: every file lives under the test's temporary directory.
//
// When a server binary is missing the test is skipped with a message naming
// the packages to install, unless ROSTERSYNC_REQUIRE_LDAP=1 (set by CI), in
// which case it fails.
package ldaptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RequireEnv is the variable that turns "server binary missing" from a skip
// into a failure.
const RequireEnv = "ROSTERSYNC_REQUIRE_LDAP"

// Need skips (or, with ROSTERSYNC_REQUIRE_LDAP=1, fails) t unless every
// named program is found, in PATH or as an absolute path.
func Need(t testing.TB, install string, programs ...string) {
	t.Helper()
	var missing []string
	for _, p := range programs {
		if filepath.IsAbs(p) {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, p)
			}
			continue
		}
		if _, err := exec.LookPath(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%v not found; install with: %s", missing, install)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
	}
	t.Skip(msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// WriteCert writes a self-signed certificate for 127.0.0.1 and localhost
// (cert.pem, which is also the CA to trust, and key.pem) into dir.
func WriteCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "rostersync test directory"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost", "ldap.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// writeSecret writes a password file (no trailing newline) and returns its path.
func writeSecret(dir, name, pw string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(pw), 0o600); err != nil {
		panic(err)
	}
	return p
}
