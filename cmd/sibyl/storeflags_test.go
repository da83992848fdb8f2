package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestStoreFlagsRefuseCredentialsInEndpoints: an etcd endpoint written with
// user:password@ is refused before anything connects, and the refusal does not
// repeat the password (errors and logs quote endpoints; the etcd client would
// ignore those credentials anyway).
func TestStoreFlagsRefuseCredentialsInEndpoints(t *testing.T) {
	const secret = "S3cret-in-url"
	for i, ep := range []string{
		"https://sibyl:" + secret + "@10.0.0.1:2379",
		"http://10.0.0.1:2379,https://sibyl:" + secret + "@10.0.0.2:2379/",
		"https://" + secret + "@10.0.0.1:2379",
		"sibyl:" + secret + "@10.0.0.1:2379", // not a URL at all
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var f storeFlags
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			f.register(fs)
			if err := fs.Parse([]string{"--store", "etcd", "--etcd-endpoints", ep}); err != nil {
				t.Fatal(err)
			}
			err := f.check()
			if err == nil {
				t.Fatalf("check() accepted %s", ep)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the refusal repeats the password: %v", err)
			}
			t.Log(err)
		})
	}
	var f storeFlags
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--store", "etcd", "--etcd-endpoints", "https://10.0.0.1:2379,https://10.0.0.2:2379"}); err != nil {
		t.Fatal(err)
	}
	if err := f.check(); err != nil {
		t.Fatalf("check() refused plain endpoints: %v", err)
	}
}
