package api

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"
)

// Password hashing: Argon2id with the parameters OWASP recommends for a
// 19 MiB budget (m=19456 KiB, t=2, p=1), in the PHC string format so that
// stronger parameters can be adopted later without breaking stored hashes.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLength is the shortest password the console accepts.
const MinPasswordLength = 10

// ErrWeakPassword is returned by HashPassword for a password too short to
// be accepted.
var ErrWeakPassword = fmt.Errorf("a password needs at least %d characters", MinPasswordLength)

// HashPassword returns the PHC string of an Argon2id hash of password with
// a fresh random salt.
func HashPassword(password string) (string, error) {
	if len([]rune(password)) < MinPasswordLength {
		return "", ErrWeakPassword
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the PHC string hash. A
// malformed hash is an error, never a match.
func CheckPassword(hash, password string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("password hash: not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("password hash: version %q", parts[2])
	}
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<22 || t > 64 {
		return false, fmt.Errorf("password hash: parameters %q", parts[3])
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password hash: salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, errors.New("password hash: key")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is checked against when a sign-in names no known user, so that
// the answer takes as long as for a known one.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not-a-password-of-anyone")
	return h
})

// loginThrottle slows down password guessing: after a number of failed
// sign-ins for one user name (5) or from one address (30: an office behind
// one address has many people) within window, further tries for it are
// refused until the oldest failure leaves the window. It is per process.
type loginThrottle struct {
	mu     sync.Mutex
	fails  map[string][]time.Time
	window time.Duration
	now    func() time.Time
}

// Failed sign-ins allowed per window, by kind of key.
const (
	maxFailsPerUser    = 5
	maxFailsPerAddress = 30
)

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{fails: map[string][]time.Time{}, window: 15 * time.Minute, now: time.Now}
}

// limit is the failures allowed for a key ("user:…" or "ip:…").
func (l *loginThrottle) limit(key string) int {
	if strings.HasPrefix(key, "ip:") {
		return maxFailsPerAddress
	}
	return maxFailsPerUser
}

// wait reports how long the keys must wait before the next try (0: go on).
func (l *loginThrottle) wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var longest time.Duration
	for _, k := range keys {
		fs := l.prune(k, now)
		if len(fs) >= l.limit(k) {
			if d := fs[0].Add(l.window).Sub(now); d > longest {
				longest = d
			}
		}
	}
	return longest
}

func (l *loginThrottle) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
}

func (l *loginThrottle) succeed(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.fails, k)
	}
}

// prune drops failures older than the window; l.mu is held.
func (l *loginThrottle) prune(k string, now time.Time) []time.Time {
	fs := l.fails[k]
	i := 0
	for i < len(fs) && now.Sub(fs[i]) >= l.window {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(l.fails, k)
		return nil
	}
	l.fails[k] = fs
	return fs
}
