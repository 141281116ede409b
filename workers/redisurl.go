package workers

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Redis deployments a queue URL can name.
const (
	RedisSingle   = "single"
	RedisSentinel = "sentinel"
	RedisCluster  = "cluster"
)

// RedisURL is a parsed queue Redis URL. ParseRedisURL accepts:
//
//	redis://[[user]:password@]host:port[/db]
//	rediss://…                                   (TLS)
//	redis-socket://[[user]:password@]/path/to/redis.sock[?db=N]
//	redis-sentinel://[[user]:password@]host1:26379,host2:26379/master-name[?db=N]
//	redis-cluster://[[user]:password@]host1:6379,host2:6379
//	rediss-sentinel://…, rediss-cluster://…      (TLS)
//
// The user and password are the data nodes' (the master's, for Sentinel);
// a Sentinel that wants a password of its own takes sentinel_password (and
// sentinel_user) from the query. The master name may also be given as the
// query parameter master. A cluster has only database 0.
type RedisURL struct {
	// Mode is RedisSingle, RedisSentinel or RedisCluster.
	Mode string
	// Network is "tcp", or "unix" for redis-socket.
	Network string
	// Addrs holds one address for a single server (a socket path for
	// unix), the Sentinels, or the cluster's seed nodes.
	Addrs            []string
	MasterName       string
	Username         string
	Password         string
	SentinelUsername string
	SentinelPassword string
	DB               int
	TLS              bool
}

// ParseRedisURL parses a queue Redis URL; see RedisURL for the forms.
func ParseRedisURL(raw string) (RedisURL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return RedisURL{}, fmt.Errorf("redis url %q: want scheme://…", redact(raw))
	}
	var u RedisURL
	switch scheme {
	case "redis", "rediss", "redis-socket":
		u.Mode = RedisSingle
	case "redis-sentinel", "rediss-sentinel":
		u.Mode = RedisSentinel
	case "redis-cluster", "rediss-cluster":
		u.Mode = RedisCluster
	default:
		return RedisURL{}, fmt.Errorf("redis url %q: unknown scheme %q (want redis, rediss, redis-socket, redis-sentinel or redis-cluster)", redact(raw), scheme)
	}
	u.TLS = strings.HasPrefix(scheme, "rediss")
	u.Network = "tcp"

	rest, rawQuery, _ := strings.Cut(rest, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return RedisURL{}, fmt.Errorf("redis url %q: query: %w", redact(raw), err)
	}
	// The hosts may be a comma-separated list, which net/url does not
	// parse; the user information ends at the last '@' before the path.
	authority, path := rest, ""
	if i := strings.Index(rest, "/"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		if err := u.setUser(authority[:i]); err != nil {
			return RedisURL{}, fmt.Errorf("redis url %q: %w", redact(raw), err)
		}
		authority = authority[i+1:]
	}

	if scheme == "redis-socket" {
		if authority != "" || path == "" {
			return RedisURL{}, fmt.Errorf("redis url %q: want redis-socket:///path/to/socket", redact(raw))
		}
		u.Network, u.Addrs = "unix", []string{path}
		path = ""
	} else {
		for _, a := range strings.Split(authority, ",") {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			if _, _, err := net.SplitHostPort(a); err != nil {
				a = net.JoinHostPort(a, defaultRedisPort(u.Mode))
			}
			u.Addrs = append(u.Addrs, a)
		}
		if len(u.Addrs) == 0 {
			return RedisURL{}, fmt.Errorf("redis url %q: no host", redact(raw))
		}
		if u.Mode == RedisSingle && len(u.Addrs) > 1 {
			return RedisURL{}, fmt.Errorf("redis url %q: several hosts need redis-sentinel:// or redis-cluster://", redact(raw))
		}
	}

	segment := strings.Trim(path, "/")
	switch u.Mode {
	case RedisSingle:
		if segment != "" {
			if u.DB, err = strconv.Atoi(segment); err != nil || u.DB < 0 {
				return RedisURL{}, fmt.Errorf("redis url %q: the path is the database number, not %q", redact(raw), segment)
			}
		}
	case RedisSentinel:
		u.MasterName = segment
		if m := query.Get("master"); m != "" {
			u.MasterName = m
		}
		if u.MasterName == "" {
			return RedisURL{}, fmt.Errorf("redis url %q: Sentinel needs the master name: redis-sentinel://host:26379,…/master-name", redact(raw))
		}
		u.SentinelUsername, u.SentinelPassword = query.Get("sentinel_user"), query.Get("sentinel_password")
	case RedisCluster:
		if segment != "" && segment != "0" {
			return RedisURL{}, fmt.Errorf("redis url %q: a cluster has only database 0", redact(raw))
		}
	}
	if db := query.Get("db"); db != "" {
		if u.DB, err = strconv.Atoi(db); err != nil || u.DB < 0 {
			return RedisURL{}, fmt.Errorf("redis url %q: db=%q is not a database number", redact(raw), db)
		}
		if u.Mode == RedisCluster && u.DB != 0 {
			return RedisURL{}, fmt.Errorf("redis url %q: a cluster has only database 0", redact(raw))
		}
	}
	return u, nil
}

func (u *RedisURL) setUser(info string) error {
	user, pass, hasPass := strings.Cut(info, ":")
	var err error
	if u.Username, err = url.PathUnescape(user); err != nil {
		return errors.New("bad escape in user name")
	}
	if hasPass {
		if u.Password, err = url.PathUnescape(pass); err != nil {
			return errors.New("bad escape in password")
		}
	}
	return nil
}

func defaultRedisPort(mode string) string {
	if mode == RedisSentinel {
		return "26379"
	}
	return "6379"
}

// redact hides the password of a URL for error messages.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	authEnd := len(rest)
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authEnd = i
	}
	at := strings.LastIndex(rest[:authEnd], "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// String returns the URL with its passwords hidden, for logs.
func (u RedisURL) String() string {
	scheme := map[string]string{RedisSingle: "redis", RedisSentinel: "redis-sentinel", RedisCluster: "redis-cluster"}[u.Mode]
	if u.Network == "unix" {
		scheme = "redis-socket"
	} else if u.TLS {
		scheme = strings.Replace(scheme, "redis", "rediss", 1)
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if u.Username != "" || u.Password != "" {
		b.WriteString(url.PathEscape(u.Username))
		if u.Password != "" {
			b.WriteString(":xxxxx")
		}
		b.WriteString("@")
	}
	b.WriteString(strings.Join(u.Addrs, ","))
	switch u.Mode {
	case RedisSentinel:
		b.WriteString("/" + u.MasterName)
		if u.DB != 0 {
			b.WriteString("?db=" + strconv.Itoa(u.DB))
		}
	case RedisSingle:
		if u.DB != 0 {
			b.WriteString("/" + strconv.Itoa(u.DB))
		}
	}
	return b.String()
}

func (u RedisURL) tlsConfig() *tls.Config {
	if !u.TLS {
		return nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(u.Addrs) == 1 {
		if host, _, err := net.SplitHostPort(u.Addrs[0]); err == nil {
			c.ServerName = host
		}
	}
	return c
}

// connOpt is the URL as Asynq's connection options.
func (u RedisURL) connOpt() asynq.RedisConnOpt {
	switch u.Mode {
	case RedisSentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: u.MasterName, SentinelAddrs: u.Addrs,
			SentinelUsername: u.SentinelUsername, SentinelPassword: u.SentinelPassword,
			Username: u.Username, Password: u.Password, DB: u.DB, TLSConfig: u.tlsConfig(),
		}
	case RedisCluster:
		return asynq.RedisClusterClientOpt{Addrs: u.Addrs, Username: u.Username, Password: u.Password, TLSConfig: u.tlsConfig()}
	default:
		return asynq.RedisClientOpt{Network: u.Network, Addr: u.Addrs[0], Username: u.Username, Password: u.Password, DB: u.DB, TLSConfig: u.tlsConfig()}
	}
}

// redisConnOpt parses a queue Redis URL into Asynq's connection options.
func redisConnOpt(raw string) (asynq.RedisConnOpt, error) {
	u, err := ParseRedisURL(raw)
	if err != nil {
		return nil, err
	}
	return u.connOpt(), nil
}

// NewRedisClient connects a go-redis client to the Redis a queue URL names
// (single server, Sentinel or Cluster), the same way the queue connects:
// for the per-host limits and readiness checks. The caller closes it.
func NewRedisClient(raw string) (redis.UniversalClient, error) {
	opt, err := redisConnOpt(raw)
	if err != nil {
		return nil, err
	}
	c, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("redis client: unexpected client type")
	}
	return c, nil
}
