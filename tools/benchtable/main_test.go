package main

import (
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in := `goos: linux
BenchmarkSendReceive-2   	       1	27159185014 ns/op	  40.00 MB/s	        20.04 recv-cpu-s/GiB
BenchmarkSendReceive-2   	       1	27317413083 ns/op	  30.00 MB/s	        18.54 recv-cpu-s/GiB
BenchmarkSendReceive-2   	       1	28766992145 ns/op	  35.00 MB/s	        19.00 recv-cpu-s/GiB
BenchmarkRawTCP-2        	       1	1404973024 ns/op	 700.00 MB/s	         1.397 recv-cpu-s
BenchmarkRawTCP-2        	       1	1404973024 ns/op	 800.00 MB/s	         1.397 recv-cpu-s
BenchmarkPlainPion-2     	       1	9911484866 ns/op	  10.00 MB/s	        19.15 recv-cpu-s/GiB
BenchmarkTwoHosts/epicshare-2 	       1	27159185014 ns/op	  60.00 MB/s	        7.5 send-cpu-s/GiB
BenchmarkTwoHosts/plain-pion-2 	       1	27159185014 ns/op	  40.00 MB/s	        9 send-cpu-s/GiB
BenchmarkTwoHosts/raw-tcp-2 	       1	27159185014 ns/op	  1200.00 MB/s	        0.2 send-cpu-s/GiB
BenchmarkFirstByte-2     	       1	 472546246 ns/op	       263.1 first-byte-ms
BenchmarkBadNetwork/20Mbit_loss5-2 	       1	40000000000 ns/op	        64.00 MiB	        40.00 s	        26.84 theory-s	         1.678 MB/s
BenchmarkBadNetwork/20Mbit_loss5-2 	       1	44000000000 ns/op	        64.00 MiB	        44.00 s	        26.84 theory-s	         1.525 MB/s
BenchmarkBadNetwork/20Mbit_loss5 	       1	42000000000 ns/op	        64.00 MiB	        42.00 s	        26.84 theory-s	         1.598 MB/s
PASS
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| SendReceive | MB/s | 35 | 3 | 0.047× | 3.500× |",
		"| SendReceive | recv-cpu-s/GiB | 19 | 3 |  |  |",
		"| RawTCP | MB/s | 750 | 2 | 1.000× | 75.000× |",
		"| BadNetwork/20Mbit_loss5 | s | 42 | 3 |  |  |",
		"| desktop→desktop, 1 GiB over loopback | 35 | ≥ 120 | no |",
		"| receiver CPU seconds per GiB, loopback | 19 | ≤ 12 | no |",
		"| TwoHosts/epicshare | MB/s | 60 | 1 | 0.050× | 1.500× |",
		"| sender CPU seconds per GiB, two hosts | 7.5 | ≤ 8 | yes |",
		"| desktop→desktop vs plain Pion, two hosts (×) | 1.5 | ≥ 2 | no |",
		"| link opened → first byte (ms) | 263.1 | ≤ 300 | yes |",
		"| desktop→desktop vs plain Pion, loopback (×) | 3.5 | ≥ 2 | yes |",
		"| BadNetwork/20Mbit_loss5 | 64 MiB | 42.0 s | 26.8 s | 1.56× | 3 |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(strings.NewReader("nothing"), &out); err == nil {
		t.Error("no results accepted")
	}
}
