package caddyjwt

import (
	"strings"
	"testing"
)

func TestRedisLocationsOfTheThreeTopologies(t *testing.T) {
	t.Setenv("TEST_REDIS_PASSWORD", "master-secret")
	t.Setenv("TEST_SENTINEL_PASSWORD", "sentinel-secret")

	o, err := (&RedisConnection{Location: "redis://u:p@10.0.0.1:6380/2?pool_size=7"}).options()
	if err != nil {
		t.Fatal(err)
	}
	if o.simple == nil || o.simple.Addr != "10.0.0.1:6380" || o.simple.DB != 2 || o.simple.Password != "p" || o.simple.PoolSize != 7 {
		t.Errorf("standalone: %+v", o.simple)
	}
	if o.simple.ReadTimeout != redisIOTimeout || o.simple.MaxRetries != 1 || !o.simple.DisableIdentity {
		t.Errorf("standalone: request-path defaults not applied: %+v", o.simple)
	}

	o, err = (&RedisConnection{
		Location:         "redis+sentinel://s1:26379/1?master_name=main&addr=s2:26379&addr=s3:26379",
		Password:         "{env.TEST_REDIS_PASSWORD}",
		SentinelPassword: "{env.TEST_SENTINEL_PASSWORD}",
	}).options()
	if err != nil {
		t.Fatal(err)
	}
	f := o.failover
	if f == nil || f.MasterName != "main" || strings.Join(f.SentinelAddrs, ",") != "s1:26379,s2:26379,s3:26379" || f.DB != 1 {
		t.Fatalf("sentinel: %+v", f)
	}
	if f.Password != "master-secret" || f.SentinelPassword != "sentinel-secret" {
		t.Errorf("sentinel credentials: master %q, sentinels %q", f.Password, f.SentinelPassword)
	}

	o, err = (&RedisConnection{Location: "rediss+cluster://c1:7000?addr=c2:7000&addr=c3:7000"}).options()
	if err != nil {
		t.Fatal(err)
	}
	if c := o.cluster; c == nil || len(c.Addrs) != 3 || c.TLSConfig == nil || c.TLSConfig.ServerName != "c1" {
		t.Errorf("cluster: %+v", o.cluster)
	}
}

func TestRedisLocationsRefusedWithoutLeakingTheirPassword(t *testing.T) {
	for name, c := range map[string]RedisConnection{
		"not a redis scheme":             {Location: "http://:hunter2@127.0.0.1:6379"},
		"unknown topology":               {Location: "redis+ring://:hunter2@127.0.0.1:6379"},
		"sentinel without master_name":   {Location: "redis+sentinel://:hunter2@127.0.0.1:26379"},
		"skip_verify in the URL":         {Location: "rediss://:hunter2@127.0.0.1:6379?skip_verify=true"},
		"unknown parameter":              {Location: "redis://:hunter2@127.0.0.1:6379?hunter3=1"},
		"tls settings without rediss":    {Location: "redis://:hunter2@127.0.0.1:6379", TLS: &RedisTLS{ServerName: "x"}},
		"sentinel password on cluster":   {Location: "redis+cluster://:hunter2@127.0.0.1:7000", SentinelPassword: "hunter2"},
		"client cert without key":        {Location: "rediss://:hunter2@127.0.0.1:6379", TLS: &RedisTLS{ClientCert: "c.pem"}},
		"CA file missing":                {Location: "rediss://:hunter2@127.0.0.1:6379", TLS: &RedisTLS{CA: "/nonexistent/ca.pem"}},
		"password placeholder not found": {Location: "redis://127.0.0.1:6379", Password: "{file./nonexistent/pw}"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.options()
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}
