package emailittest

import (
	"math"
	"time"
)

// slidingWindow admits at most limit requests in any window-long interval,
// as Emailit's per-workspace limit does ("2 requests per second", sliding
// window). A rate below 1/s becomes one request per 1/rate seconds.
type slidingWindow struct {
	limit  int
	window time.Duration
	times  []time.Time // admitted requests still inside the window, oldest first
}

func newSlidingWindow(rate float64) *slidingWindow {
	limit := int(math.Round(rate))
	if limit < 1 {
		limit = 1
	}
	return &slidingWindow{limit: limit, window: time.Duration(float64(limit) / rate * float64(time.Second))}
}

// admit records a request at now if the window has room. Otherwise it
// returns how many requests the window holds and how long until the oldest
// leaves it.
func (w *slidingWindow) admit(now time.Time) (ok bool, current int, wait time.Duration) {
	cut := 0
	for cut < len(w.times) && !w.times[cut].After(now.Add(-w.window)) {
		cut++
	}
	w.times = w.times[cut:]
	if len(w.times) < w.limit {
		w.times = append(w.times, now)
		return true, len(w.times), 0
	}
	return false, len(w.times), w.times[0].Add(w.window).Sub(now)
}
