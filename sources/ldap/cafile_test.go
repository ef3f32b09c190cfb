package ldap

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMissingCAFileIsNotRetried: a ca_file that is not there is a
// configuration error, reported at once, not redialled like a network error.
func TestMissingCAFileIsNotRetried(t *testing.T) {
	var logs bytes.Buffer
	missing := filepath.Join(t.TempDir(), "corp-ca.pem")
	s, err := New("corp", Config{URL: "ldaps://127.0.0.1:1", CAFile: missing, People: Search{BaseDN: "dc=x"},
		Retries: 3, RetryBackoff: time.Hour}, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = s.Fetch(ctx)
	if err == nil || !strings.Contains(err.Error(), "ca_file: open "+missing) {
		t.Fatalf("Fetch: %v, want the missing ca_file named", err)
	}
	if strings.Contains(logs.String(), "retrying") {
		t.Errorf("a missing ca_file was retried:\n%s", logs.String())
	}
}

// TestCAFileSaysWhyACertificateIsRefused: a certificate Go refuses (a
// negative serial number, as Samba generates) is named with the reason and
// the fix, not reported as "no certificates".
func TestCAFileSaysWhyACertificateIsRefused(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x8000), Subject: pkix.Name{CommonName: "dc1"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if _, err := LoadCAFile(good); err != nil {
		t.Fatalf("a good CA file: %v", err)
	}
	// The serial 0x8000 is DER 02 03 00 80 00; 80 00 00 makes it negative,
	// as a non-conforming CA writes it.
	neg := bytes.Replace(der, []byte{2, 3, 0, 0x80, 0}, []byte{2, 3, 0x80, 0, 0}, 1)
	if bytes.Equal(neg, der) {
		t.Fatal("no serial to patch")
	}
	for _, tc := range []struct {
		name string
		file string
		want string
	}{
		{"negative serial", write("samba.pem", &pem.Block{Type: "CERTIFICATE", Bytes: neg}), "certificate 1: x509: negative serial number (RFC 5280 forbids it; Samba's"},
		{"a key, not a certificate", write("key.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}), "no CERTIFICATE block, only EC PRIVATE KEY"},
		{"not PEM", write("ca.der", &pem.Block{Type: "X"}), "no CERTIFICATE block, only X"},
	} {
		_, err := LoadCAFile(tc.file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	der2 := filepath.Join(dir, "raw.der")
	os.WriteFile(der2, der, 0o600)
	if _, err := LoadCAFile(der2); err == nil || !strings.Contains(err.Error(), "openssl x509 -inform der") {
		t.Errorf("a DER file: %v", err)
	}
}
