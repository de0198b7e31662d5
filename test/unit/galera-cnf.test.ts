import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { GALERA_CNF, galeraCnf } from "../../deploy/galera/galera-cnf.ts";

describe("deploy/galera/galera.cnf filled in for one node", () => {
  const members = ["127.0.0.1:5001", "127.0.0.1:5002", "127.0.0.1:5003"];
  const cnf = galeraCnf({ name: "g2", address: "127.0.0.1", ports: { gcomm: 5002, ist: 6002, sst: 7002 }, gcacheSize: "32M" }, members);
  const line = (key: string) => cnf.split("\n").find((l) => l.startsWith(`${key} =`));

  it("names the node, its ports and every member, and leaves no placeholder", () => {
    expect(line("wsrep_node_name")).toBe("wsrep_node_name = g2");
    expect(line("wsrep_node_address")).toBe("wsrep_node_address = 127.0.0.1:5002");
    expect(line("wsrep_cluster_address")).toBe("wsrep_cluster_address = gcomm://127.0.0.1:5001,127.0.0.1:5002,127.0.0.1:5003");
    expect(line("wsrep_provider_options")).toBe(
      'wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:5002;ist.recv_addr=127.0.0.1:6002;gcache.size=32M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT8S"',
    );
    expect(line("wsrep_sst_receive_address")).toBe("wsrep_sst_receive_address = 127.0.0.1:7002");
    expect(cnf).not.toContain("THIS-");
  });

  it("keeps the single-writer id settings the chat nodes rely on", () => {
    expect(line("wsrep_auto_increment_control")).toBe("wsrep_auto_increment_control = OFF");
    expect(line("auto_increment_increment")).toBe("auto_increment_increment = 1");
    expect(line("innodb_autoinc_lock_mode")).toBe("innodb_autoinc_lock_mode = 2");
  });

  it("uses the template's own ports when none are given", () => {
    const vm = galeraCnf({ name: "db1", address: "10.0.0.21" }, ["10.0.0.21:4567", "10.0.0.22:4567", "10.0.0.23:4567"]);
    expect(vm).toContain('"gmcast.listen_addr=tcp://10.0.0.21:4567;ist.recv_addr=10.0.0.21:4568;gcache.size=256M;');
    expect(readFileSync(GALERA_CNF, "utf8")).toContain("THIS-NODE");
  });

  it("refuses a member list that does not name the node, and a template that lost a placeholder", () => {
    expect(() => galeraCnf({ name: "g9", address: "127.0.0.1", ports: { gcomm: 9, ist: 10, sst: 11 } }, members)).toThrow(TypeError);
    expect(() => galeraCnf({ name: "g1", address: "127.0.0.1", ports: { gcomm: 5001, ist: 1, sst: 2 } }, members, "[mysqld]\n")).toThrow("no longer contains");
  });
});
