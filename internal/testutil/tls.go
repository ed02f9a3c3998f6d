package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCA is a certificate authority made for one test, and a server
// certificate it signed, as PEM files in a temporary folder.
type TestCA struct {
	CAFile, CertFile, KeyFile string
	// SPKI is the base64 SHA-256 of the server's and the CA's public
	// keys, comma-separated, as Chromium's
	// --ignore-certificate-errors-spki-list wants them: the browser then
	// trusts the server certificate.
	SPKI string
	Pool *x509.CertPool
}

// NewTestCA makes a CA and a server certificate for names (DNS names or
// IP addresses), valid for a day.
func NewTestCA(t testing.TB, names ...string) *TestCA {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Must(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "EpicShare test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	Must(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	Must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Must(t, err)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	Must(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	Must(t, err)
	ca := &TestCA{
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
		Pool: x509.NewCertPool(),
	}
	ca.Pool.AddCert(caCert)
	leafCert, err := x509.ParseCertificate(der)
	Must(t, err)
	leafSum, caSum := sha256.Sum256(leafCert.RawSubjectPublicKeyInfo), sha256.Sum256(caCert.RawSubjectPublicKeyInfo)
	ca.SPKI = base64.StdEncoding.EncodeToString(leafSum[:]) + "," + base64.StdEncoding.EncodeToString(caSum[:])
	writePEM(t, ca.CAFile, "CERTIFICATE", caDER)
	writePEM(t, ca.CertFile, "CERTIFICATE", der)
	writePEM(t, ca.KeyFile, "PRIVATE KEY", keyDER)
	return ca
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	Must(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}
