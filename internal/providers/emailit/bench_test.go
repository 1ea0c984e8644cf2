package emailit

import (
	"fmt"
	"net/http"
	"testing"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// BenchmarkList250 lists 250 keys (3 pages) from the test server on
// loopback, rate limits off: the provider's own cost per listing.
func BenchmarkList250(b *testing.B) {
	srv := emailittest.New(emailittest.Config{RateLimit: emailittest.NoRateLimit})
	defer srv.Close()
	for i := 0; i < 250; i++ {
		srv.CreateKey(fmt.Sprintf("rotator-k-%03d", i), "sending")
	}
	p, err := New(Config{Config: httpapi.Config{BaseURL: srv.URL(), RateLimit: 1e9}, APIKey: config.Secret(srv.ManagementKey())},
		providers.Deps{Deps: backend.Deps{Name: "emailit", Logger: zap.NewNop()}, HTTPClient: &http.Client{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list, err := p.List(ctx, "rotator-")
		if err != nil || len(list) != 250 {
			b.Fatalf("%d keys, %v", len(list), err)
		}
	}
}

func BenchmarkDecodeList(b *testing.B) {
	body := []byte(docList)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		if _, err := decodeList(body); err != nil {
			b.Fatal(err)
		}
	}
}
