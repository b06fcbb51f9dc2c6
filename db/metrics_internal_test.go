package db

import "testing"

func TestPercentile(t *testing.T) {
	t.Parallel()
	ten := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		sorted []int64
		p      float64
		want   int64
	}{
		{[]int64{7}, 50, 7}, {[]int64{7}, 95, 7}, {[]int64{1, 2}, 50, 1}, {[]int64{1, 2}, 95, 2},
		{ten, 50, 5}, {ten, 95, 10}, {ten, 90, 9}, {ten, 0, 1}, {ten, 100, 10},
	} {
		if got := percentile(c.sorted, c.p); got != c.want {
			t.Errorf("percentile(%v, %v) = %d, want %d", c.sorted, c.p, got, c.want)
		}
	}
}

func TestStepIDOf(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]string{
		"get_lead": "get_lead", "send[3]": "send", "each[2]/call": "call", "each[2]/inner[10]": "inner", "a/b/c[0]": "c",
	} {
		if got := stepIDOf(key); got != want {
			t.Errorf("stepIDOf(%q) = %q, want %q", key, got, want)
		}
	}
}
