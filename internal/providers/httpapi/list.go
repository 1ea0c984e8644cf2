package httpapi

import (
	"fmt"

	"github.com/rotator-dev/rotator/internal/providers"
)

// Bounds of one List call, whatever the provider answers: a provider that
// is broken or hostile (an endless list, fresh next-page links forever)
// costs at most this much memory and traffic.
const (
	// ListMaxBytes bounds the response bytes one List call reads, over all
	// its pages: 64 MiB, about 190,000 keys of smtpd.dev's list.
	ListMaxBytes = 64 << 20
	// ListMaxPages bounds the pages one List call follows (100,000 keys
	// at Emailit's 100 a page).
	ListMaxPages = 1000
)

// DefaultListMaxKeys is the default of list_max_keys: room for each of
// 10,000 managed keys with its retiring and a few revoked ones (about 10
// MiB of metadata), while a provider that answers an endless list costs
// no more than that.
const DefaultListMaxKeys = 50_000

// ListLimit is ListMaxKeys with its default applied.
func (c Config) ListLimit() int {
	if c.ListMaxKeys == 0 {
		return DefaultListMaxKeys
	}
	return c.ListMaxKeys
}

// TooManyKeys is the error of a List call that found more than limit
// keys named prefix*: it names the provider, the limit and the setting.
func TooManyKeys(provider string, limit int, prefix string) error {
	return &providers.Error{Op: "list", Reason: providers.ReasonClient,
		Err: fmt.Errorf("provider %s lists more than %d keys named %q*: raise list_max_keys in providers.%s if the account really holds that many",
			provider, limit, prefix, provider)}
}

// ListTooLong is the error of a List call past ListMaxBytes or
// ListMaxPages.
func ListTooLong(provider, what string) error {
	return &providers.Error{Op: "list", Reason: providers.ReasonClient,
		Err: fmt.Errorf("provider %s: the key list is longer than %s; refusing to read more", provider, what)}
}
