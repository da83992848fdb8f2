package etcdtest

import (
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// AddUser adds the etcd user name with password and a role of the same name granted
// read and write on the keys under prefix only (the range [prefix, prefix's end));
// with prefix "" the role grants nothing, a user that may log in but read or write no
// key. It works before and after EnableAuth (then as root).
func (c *Cluster) AddUser(ctx context.Context, name, password, prefix string) error {
	if name == "" || name == "root" {
		return fmt.Errorf("etcdtest: AddUser %q: want a name other than root (EnableAuth makes root)", name)
	}
	cli, err := c.NewClient(c.Endpoints()...)
	if err != nil {
		return fmt.Errorf("etcdtest: AddUser: %w", err)
	}
	defer cli.Close()
	if _, err := cli.UserAdd(ctx, name, password); err != nil {
		return fmt.Errorf("etcdtest: adding user %s: %w", name, err)
	}
	if _, err := cli.RoleAdd(ctx, name); err != nil {
		return fmt.Errorf("etcdtest: adding role %s: %w", name, err)
	}
	if prefix != "" {
		if _, err := cli.RoleGrantPermission(ctx, name, prefix, clientv3.GetPrefixRangeEnd(prefix), clientv3.PermissionType(clientv3.PermReadWrite)); err != nil {
			return fmt.Errorf("etcdtest: granting role %s readwrite on %s: %w", name, prefix, err)
		}
	}
	if _, err := cli.UserGrantRole(ctx, name, name); err != nil {
		return fmt.Errorf("etcdtest: granting role %s to user %s: %w", name, name, err)
	}
	return nil
}

// EnableAuth turns etcd's role-based auth on: it adds the user root with
// rootPassword and the root role (which etcd requires first), then enables auth.
// From then on every request needs a user: the cluster's own clients (Client,
// NewClient, the health checks of WaitHealthy and Restart) log in as root; clients
// made before carry no credentials and are refused. Add the users a test needs with
// AddUser, before or after.
func (c *Cluster) EnableAuth(ctx context.Context, rootPassword string) error {
	if rootPassword == "" {
		return errors.New("etcdtest: EnableAuth: empty root password")
	}
	cli, err := c.NewClient(c.Endpoints()...)
	if err != nil {
		return fmt.Errorf("etcdtest: EnableAuth: %w", err)
	}
	defer cli.Close()
	if _, err := cli.UserAdd(ctx, "root", rootPassword); err != nil {
		return fmt.Errorf("etcdtest: adding user root: %w", err)
	}
	if _, err := cli.UserGrantRole(ctx, "root", "root"); err != nil {
		return fmt.Errorf("etcdtest: granting root the root role: %w", err)
	}
	if _, err := cli.AuthEnable(ctx); err != nil {
		return fmt.Errorf("etcdtest: enabling auth: %w", err)
	}
	c.authMu.Lock()
	c.rootPassword = rootPassword
	c.authMu.Unlock()
	for _, m := range c.members {
		m.closeClient() // made anew, as root, at the next health check
	}
	return nil
}
