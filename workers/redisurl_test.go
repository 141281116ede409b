package workers

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wildwatch/wildwatch/internal/redistest"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want RedisURL
	}{
		{"redis://127.0.0.1:6379/7", RedisURL{Mode: RedisSingle, Network: "tcp", Addrs: []string{"127.0.0.1:6379"}, DB: 7}},
		{"redis://redis", RedisURL{Mode: RedisSingle, Network: "tcp", Addrs: []string{"redis:6379"}}},
		{"rediss://user:p%40ss@cache.example.org:6380/2", RedisURL{Mode: RedisSingle, Network: "tcp", Addrs: []string{"cache.example.org:6380"},
			Username: "user", Password: "p@ss", DB: 2, TLS: true}},
		{"redis://:secret@[::1]:6379", RedisURL{Mode: RedisSingle, Network: "tcp", Addrs: []string{"[::1]:6379"}, Password: "secret"}},
		{"redis-socket://:pw@/run/redis/redis.sock?db=3", RedisURL{Mode: RedisSingle, Network: "unix", Addrs: []string{"/run/redis/redis.sock"}, Password: "pw", DB: 3}},
		{"redis-sentinel://:secret@s1:26379,s2:26380,s3/mymaster?db=4", RedisURL{Mode: RedisSentinel, Network: "tcp",
			Addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, MasterName: "mymaster", Password: "secret", DB: 4}},
		{"redis-sentinel://s1:26379?master=queue&sentinel_password=sp&sentinel_user=su", RedisURL{Mode: RedisSentinel, Network: "tcp",
			Addrs: []string{"s1:26379"}, MasterName: "queue", SentinelUsername: "su", SentinelPassword: "sp"}},
		{"redis-cluster://n1:6379,n2:6379,n3:7000", RedisURL{Mode: RedisCluster, Network: "tcp", Addrs: []string{"n1:6379", "n2:6379", "n3:7000"}}},
		{"rediss-cluster://default:pw@n1", RedisURL{Mode: RedisCluster, Network: "tcp", Addrs: []string{"n1:6379"}, Username: "default", Password: "pw", TLS: true}},
	}
	for _, tt := range tests {
		got, err := ParseRedisURL(tt.in)
		if err != nil {
			t.Errorf("ParseRedisURL(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRedisURL(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
		}
		if strings.Contains(got.String(), "secret") || strings.Contains(got.String(), "p@ss") {
			t.Errorf("String() shows the password: %s", got)
		}
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"127.0.0.1:6379",
		"http://127.0.0.1:6379",
		"redis://",
		"redis://h1:6379,h2:6379",
		"redis://host/notanumber",
		"redis://host/-1",
		"redis-sentinel://s1:26379,s2:26379",
		"redis-cluster://n1:6379/3",
		"redis-cluster://n1:6379?db=1",
		"redis-sentinel://s1/master?db=x",
		"redis-socket://host:6379",
		"redis://:topsecret@host:6379/x",
	} {
		_, err := ParseRedisURL(in)
		if err == nil {
			t.Errorf("ParseRedisURL(%q) = nil error, want one", in)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestRedisConnOpt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want asynq.RedisConnOpt
	}{
		{"redis://:pw@h:6379/5", asynq.RedisClientOpt{Network: "tcp", Addr: "h:6379", Password: "pw", DB: 5}},
		{"redis-sentinel://:pw@s1:26379,s2:26379/main?db=1&sentinel_password=sp", asynq.RedisFailoverClientOpt{
			MasterName: "main", SentinelAddrs: []string{"s1:26379", "s2:26379"}, SentinelPassword: "sp", Password: "pw", DB: 1}},
		{"redis-cluster://u:pw@n1:6379,n2:6379", asynq.RedisClusterClientOpt{Addrs: []string{"n1:6379", "n2:6379"}, Username: "u", Password: "pw"}},
	}
	for _, tt := range tests {
		got, err := redisConnOpt(tt.in)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("redisConnOpt(%q)\n got %#v\nwant %#v", tt.in, got, tt.want)
		}
	}
	// TLS schemes give a TLS config naming the server.
	got, err := redisConnOpt("rediss://cache.example.org:6380")
	if err != nil {
		t.Fatal(err)
	}
	if c := got.(asynq.RedisClientOpt).TLSConfig; c == nil || c.ServerName != "cache.example.org" {
		t.Errorf("rediss: TLS config %+v", c)
	}
}

// TestNewRedisClient checks that each kind of URL gives the go-redis client
// of its kind, and that a single-server client reaches the test Redis.
func TestNewRedisClient(t *testing.T) {
	t.Parallel()
	kinds := map[string]reflect.Type{
		"redis://" + redistest.Addr() + "/0":      reflect.TypeFor[*redis.Client](),
		"redis-sentinel://s1:26379,s2:26379/main": reflect.TypeFor[*redis.Client](), // go-redis's failover client is a *redis.Client
		"redis-cluster://n1:6379,n2:6379":         reflect.TypeFor[*redis.ClusterClient](),
	}
	for in, want := range kinds {
		c, err := NewRedisClient(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := reflect.TypeOf(c); got != want {
			t.Errorf("NewRedisClient(%q) is a %v, want %v", in, got, want)
		}
		defer c.Close()
	}
	c, err := NewRedisClient("redis://" + redistest.Addr() + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping %s: %v", redistest.Addr(), err)
	}
}
