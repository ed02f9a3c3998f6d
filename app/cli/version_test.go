package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/epicshare/epicshare/internal/version"
)

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "-version"} {
		if !IsCommand(arg) {
			t.Errorf("IsCommand(%q) = false: the window would try to share a file of that name", arg)
		}
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), []string{arg}, IO{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr})
		if code != ExitOK || stdout.String() != "epicshare "+version.String()+"\n" || stderr.Len() != 0 {
			t.Errorf("epicshare %s: exit %d, stdout %q, stderr %q", arg, code, &stdout, &stderr)
		}
	}
	if !strings.Contains(Usage, "\n  epicshare --version ") {
		t.Error("Usage does not mention --version")
	}
}
