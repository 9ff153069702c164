/** What DeadlineTimers needs of an item: its due time and the links of its list. */
export interface Deadlined<T> {
  /** When it expires, performance.now() ms (monotonic: a wall-clock step moves no deadline). */
  due: number;
  /** Its list's key: items of one timeoutMs expire in the order they were added. */
  timeoutMs: number;
  prev: T | undefined;
  next: T | undefined;
  queued: boolean;
}

class DeadlineList<T> {
  head: T | undefined;
  tail: T | undefined;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Deadlines of many items with few timers: items sharing a timeoutMs expire in the order they were
 * added, so each timeoutMs keeps a FIFO list and one timer for its head. A settled item leaves its
 * list in O(1) without touching the timer; the timer, when it fires, expires every item now due and
 * re-arms for the next head. Each item still expires at its own deadline (± the timer's lateness,
 * at most about 1 ms more). Under load this is one setTimeout per timeoutMs rather than per call.
 */
export class DeadlineTimers<T extends Deadlined<T>> {
  private readonly lists = new Map<number, DeadlineList<T>>();

  constructor(private readonly expire: (item: T) => void) {}

  /** Starts `item`'s deadline, `item.timeoutMs` from now. */
  add(item: T): void {
    item.due = performance.now() + item.timeoutMs;
    let list = this.lists.get(item.timeoutMs);
    if (list === undefined) {
      list = new DeadlineList<T>();
      this.lists.set(item.timeoutMs, list);
    }
    // Same timeoutMs, monotonic clock: a new item's deadline is never before the tail's.
    item.prev = list.tail;
    item.next = undefined;
    if (list.tail === undefined) list.head = item;
    else list.tail.next = item;
    list.tail = item;
    item.queued = true;
    if (list.timer === undefined) this.arm(list, item.due);
  }

  /** Stops `item`'s deadline (it settled otherwise); a list left empty drops its timer. */
  remove(item: T): void {
    if (!item.queued) return;
    item.queued = false;
    const list = this.lists.get(item.timeoutMs) as DeadlineList<T>;
    if (item.prev === undefined) list.head = item.next;
    else item.prev.next = item.next;
    if (item.next === undefined) list.tail = item.prev;
    else item.next.prev = item.prev;
    item.prev = item.next = undefined;
    if (list.head === undefined) {
      clearTimeout(list.timer);
      this.lists.delete(item.timeoutMs);
    }
  }

  private arm(list: DeadlineList<T>, due: number): void {
    list.timer = setTimeout(() => this.fire(list), Math.max(1, Math.ceil(due - performance.now())));
  }

  private fire(list: DeadlineList<T>): void {
    list.timer = undefined;
    const now = performance.now();
    let head = list.head;
    while (head !== undefined && head.due <= now) {
      this.expire(head);
      // expire() settles the item, which removes it; never loop on one that stayed.
      if (list.head === head) this.remove(head);
      head = list.head;
    }
    // An add() during the loop may have armed the list already.
    if (head !== undefined && list.timer === undefined) this.arm(list, head.due);
  }
}
