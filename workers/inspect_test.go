package workers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wildwatch/wildwatch/internal/redistest"
)

func TestInspectorQueueSizes(t *testing.T) {
	t.Parallel()
	redistest.NewClient(t) // fails the test when Redis is not there
	// Queue names of the test's own keep it apart from other tests on the
	// same database.
	var b [4]byte
	rand.Read(b[:])
	queue := "inspect-" + hex.EncodeToString(b[:])
	url := "redis://" + redistest.Addr() + "/15"
	opt, err := redisConnOpt(url)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	in, err := NewInspector(url)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	t.Cleanup(func() { _ = asynq.NewInspector(opt).DeleteQueue(queue, true) })

	for range 3 {
		if _, err := client.Enqueue(asynq.NewTask("test", nil), asynq.Queue(queue)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.Enqueue(asynq.NewTask("test", nil), asynq.Queue(queue), asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}

	sizes, err := in.QueueSizes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]QueueSize{}
	for _, s := range sizes {
		got[s.Queue] = s
	}
	if s := got[queue]; s.Pending != 3 || s.Scheduled != 1 || s.Active != 0 || s.Retry != 0 {
		t.Errorf("queue %s: %+v, want 3 pending and 1 scheduled", queue, s)
	}
	for q := range DefaultQueues {
		if _, ok := got[q]; !ok {
			t.Errorf("queue %s is missing from %+v", q, sizes)
		}
	}
}
