package transfer

import "testing"

func TestSplitExt(t *testing.T) {
	for _, tc := range []struct{ in, stem, ext string }{
		{"a.txt", "a", ".txt"},
		{"archive.tar.gz", "archive", ".tar.gz"},
		{"a.b.c", "a.b", ".c"},
		{".bashrc", ".bashrc", ""},
		{".config.json", ".config", ".json"},
		{"noext", "noext", ""},
		{"a.txt.part", "a", ".txt.part"},
		{"dir.part", "dir", ".part"},
		{".part", ".part", ""},
	} {
		if stem, ext := splitExt(tc.in); stem != tc.stem || ext != tc.ext {
			t.Errorf("splitExt(%q) = %q, %q; want %q, %q", tc.in, stem, ext, tc.stem, tc.ext)
		}
	}
}
