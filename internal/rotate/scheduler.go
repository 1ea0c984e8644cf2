package rotate

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// scheduler wakes jobs at their due times with one timer for all of them,
// so an idle daemon with 10,000 keys sleeps until the nearest event.
type scheduler struct {
	clock clockwork.Clock
	mu    sync.Mutex
	h     jobHeap
	idx   map[string]*item
	wake  chan struct{}
	// running counts the jobs next handed out and done has not taken back;
	// worked says a job was handed out since onIdle was last called.
	running int
	worked  bool
	// onIdle, when set, is called (without the lock) when next is about to
	// sleep for at least idleAfter (or for good) with no job running, once
	// per spell of work.
	onIdle    func()
	idleAfter time.Duration
	// again holds jobs asked to run soon while they were running: done
	// schedules them now. runningJobs are the jobs handed out.
	again, runningJobs map[string]bool
}

type item struct {
	job   string
	at    time.Time
	index int
}

type jobHeap []*item

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h jobHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *jobHeap) Push(x any)        { it := x.(*item); it.index = len(*h); *h = append(*h, it) }
func (h *jobHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	it.index = -1
	return it
}

func newScheduler(clock clockwork.Clock) *scheduler {
	return &scheduler{clock: clock, idx: map[string]*item{}, wake: make(chan struct{}, 1), again: map[string]bool{},
		runningJobs: map[string]bool{}}
}

// at sets (or moves) the job's due time.
func (s *scheduler) at(job string, t time.Time) {
	s.mu.Lock()
	s.setLocked(job, t)
	s.mu.Unlock()
	s.poke()
}

// soon makes a job due now: at once if it waits, or as soon as it is done
// if it is running (a job never overlaps itself).
func (s *scheduler) soon(job string) {
	s.mu.Lock()
	if _, waiting := s.idx[job]; waiting {
		s.setLocked(job, s.clock.Now())
	} else if s.runningJobs[job] {
		s.again[job] = true
	}
	s.mu.Unlock()
	s.poke()
}

// add schedules a job at t unless it is scheduled or running already.
func (s *scheduler) add(job string, t time.Time) {
	s.mu.Lock()
	_, waiting := s.idx[job]
	if !waiting && !s.runningJobs[job] {
		s.setLocked(job, t)
	}
	s.mu.Unlock()
	s.poke()
}

// drop takes back a job that next handed out, for good.
func (s *scheduler) drop(job string) {
	s.mu.Lock()
	s.running--
	delete(s.again, job)
	delete(s.runningJobs, job)
	s.mu.Unlock()
	s.poke()
}

// done takes back a job that next handed out and schedules it at t, in
// one step: next never sees the job neither running nor scheduled.
func (s *scheduler) done(job string, t time.Time) {
	s.mu.Lock()
	s.running--
	delete(s.runningJobs, job)
	if s.again[job] {
		delete(s.again, job)
		t = s.clock.Now()
	}
	s.setLocked(job, t)
	s.mu.Unlock()
	s.poke()
}

func (s *scheduler) setLocked(job string, t time.Time) {
	if it, ok := s.idx[job]; ok {
		it.at = t
		heap.Fix(&s.h, it.index)
	} else {
		it := &item{job: job, at: t}
		heap.Push(&s.h, it)
		s.idx[job] = it
	}
}

// poke wakes next to look at the heap again.
func (s *scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next blocks until a job is due and removes it; false when ctx is done.
// The caller runs the job and hands it back with done.
func (s *scheduler) next(ctx context.Context) (string, bool) {
	for {
		s.mu.Lock()
		var wait time.Duration = -1
		if len(s.h) > 0 {
			it := s.h[0]
			if d := it.at.Sub(s.clock.Now()); d <= 0 {
				heap.Pop(&s.h)
				delete(s.idx, it.job)
				s.running++
				s.runningJobs[it.job] = true
				s.worked = true
				s.mu.Unlock()
				return it.job, true
			} else {
				wait = d
			}
		}
		idle := s.onIdle != nil && s.worked && s.running == 0 && (wait < 0 || wait >= s.idleAfter)
		if idle {
			s.worked = false
		}
		s.mu.Unlock()
		if idle {
			s.onIdle()
		}
		var timer clockwork.Timer
		var fire <-chan time.Time
		if wait >= 0 {
			timer = s.clock.NewTimer(wait)
			fire = timer.Chan()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return "", false
		case <-s.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
	}
}
