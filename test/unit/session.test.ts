/**
 * The session's order promise (PROTOCOL.md): within one conversation a
 * connection never receives a smaller mid after a larger one, across live
 * pushes, a login's replay and the pushes held during it.
 */
import { describe, expect, it } from "bun:test";
import { conversationOf, Session } from "../../src/server/session.ts";

function session() {
  const written: string[] = [];
  const counts = { outOfOrder: 0 };
  const out = { write: (l: string) => void written.push(l), overflow() {}, end() {}, closed: false };
  const s = new Session("n:1", { id: 7, name: "seven" }, out, [], { outOfOrder: () => void counts.outOfOrder++ });
  return { s, written, counts };
}

const msg = (mid: number, conv: string) => ({ mid, conv });

describe("a session", () => {
  it("names a conversation by its group, or by its two users in either direction", () => {
    expect(conversationOf({ from: 7, to: 3 })).toBe("3:7");
    expect(conversationOf({ from: 3, to: 7 })).toBe("3:7");
    expect(conversationOf({ from: 7, group: 3 })).toBe("g3");
  });

  it("does not write a message with a smaller mid than one already written in its conversation", () => {
    const { s, written, counts } = session();
    s.live();
    s.push("a100", msg(100, "3:7"));
    s.push("b99", msg(99, "3:7")); // crossed on the way: stays pending instead
    s.push("c50", msg(50, "g1")); // another conversation has its own order
    s.push("d101", msg(101, "3:7"));
    s.push("presence"); // not a message: always written
    s.push("d101", msg(101, "3:7")); // the same message twice: once is enough
    expect(written).toEqual(["a100", "c50", "d101", "presence"]);
    expect(counts.outOfOrder).toBe(1);
  });

  it("keeps the order across a login's replay and the live pushes held during it, writing each message once", () => {
    const { s, written, counts } = session();
    s.push("live 205", msg(205, "3:7")); // held until the replay ends
    s.push("live 201", msg(201, "g1")); // not in the replay (another session acked it): goes before 203
    s.push("live 202", msg(202, "3:7")); // also replayed: not twice
    s.replay("replay 202", msg(202, "3:7"));
    s.replay("replay 203", msg(203, "g1"));
    expect(written).toEqual(["replay 202", "live 201", "replay 203"]);
    s.live();
    expect(written).toEqual(["replay 202", "live 201", "replay 203", "live 205"]);
    expect(counts.outOfOrder).toBe(0);
  });

  it("does not lose a live push held during the replay that the replay skipped because the user's other session acked it", () => {
    const { s, written, counts } = session();
    // Replay read 830 and 832 as pending; 831 had been acked by the user's other session by then.
    s.push("live 830", msg(830, "3:7"));
    s.push("live 831", msg(831, "3:7"));
    s.push("presence");
    s.push("live 832", msg(832, "3:7"));
    s.push("live 833", msg(833, "3:7"));
    s.replay("replay 830", msg(830, "3:7"));
    s.replay("replay 832", msg(832, "3:7"));
    s.live();
    expect(written).toEqual(["replay 830", "live 831", "replay 832", "presence", "live 833"]);
    expect(counts.outOfOrder).toBe(0);
  });

  it("writes live pushes held during the replay in mid order when they crossed on the way", () => {
    const { s, written, counts } = session();
    s.push("live 12", msg(12, "g1"));
    s.push("live 11", msg(11, "g1"));
    s.live();
    expect(written).toEqual(["live 11", "live 12"]);
    expect(counts.outOfOrder).toBe(0);
  });
});
