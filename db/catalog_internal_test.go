package db

import "testing"

func TestPageSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ asked, want int }{
		{0, defaultPageSize}, {-1, defaultPageSize}, {1, 1}, {50, 50}, {500, 500}, {501, maxPageSize}, {1 << 30, maxPageSize},
	} {
		if got := pageSize(c.asked); got != c.want {
			t.Errorf("pageSize(%d) = %d, want %d", c.asked, got, c.want)
		}
	}
}
