package store_test

import "time"

var timeFixed = time.Date(2026, 11, 20, 12, 34, 56, 789123456, time.UTC)
