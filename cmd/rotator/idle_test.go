package main

import (
	"errors"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/state"
)

// releasingStore is an engine store that counts ReleasePages calls.
type releasingStore struct {
	engineStore
	release func() error
}

func (s releasingStore) ReleasePages() error { return s.release() }

func TestIdleReleasesTheStateFilesPages(t *testing.T) {
	calls := 0
	core, logs := observer.New(zap.WarnLevel)
	idle := onIdle(releasingStore{release: func() error { calls++; return nil }}, zap.New(core))
	idle()
	idle()
	if calls != 2 {
		t.Errorf("ReleasePages called %d times over two idle returns, want 2", calls)
	}
	failing := onIdle(releasingStore{release: func() error { return errors.New("madvise: invalid argument") }}, zap.New(core))
	failing()
	if logs.Len() != 1 || logs.All()[0].Message != "could not release the state file's mapped pages" {
		t.Errorf("a failed release logged %v, want one warning", logs.All())
	}
}

func TestTheDaemonsBboltStoreReleasesItsPages(t *testing.T) {
	s, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var store engineStore = s
	if _, ok := store.(pageReleaser); !ok {
		t.Fatal("*state.Store is not a pageReleaser: the daemon would keep the state file's pages mapped")
	}
}
