// Command hostile is a fake Placement for the exporter's fault measurements
// (run.sh): its root answers like Placement, and every other path streams an
// endless-looking provider list of -bytes bytes, as a broken proxy or a
// hostile endpoint could. Loopback only.
package main

import (
	"flag"
	"io"
	"log"
	"net/http"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18999", "address to listen on (keep it on loopback)")
	size := flag.Int64("bytes", 2<<30, "bytes of provider list to stream per request")
	flag.Parse()
	entry := []byte(`{"uuid": "10000000-0000-4000-8000-000000000001", "name": "cn1", "generation": 1},` + strings.Repeat(" ", 900))
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			_, _ = io.WriteString(w, `{"versions":[{"id":"v1.0","min_version":"1.0","max_version":"1.39"}]}`)
			return
		}
		_, _ = io.WriteString(w, `{"resource_providers": [`)
		for n := int64(0); n < *size; {
			k, err := w.Write(entry)
			if err != nil {
				return
			}
			n += int64(k)
		}
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
