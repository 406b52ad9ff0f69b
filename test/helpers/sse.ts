/** A minimal SSE reader over a real socket: collects parsed frames (id, event, data, retry, comments). */
import http from 'node:http';

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
}

export interface SseConnection {
  status: number;
  headers: http.IncomingHttpHeaders;
  frames: SseFrame[];
  comments: string[];
  body: string;
  /** resolves when `pred` holds over the frames so far */
  until(pred: (frames: SseFrame[]) => boolean, timeoutMs?: number): Promise<SseFrame[]>;
  close(): void;
  /** stop / restart reading from the socket (a slow client) */
  pause(): void;
  resume(): void;
  /** resolves when the server ends or drops the stream */
  ended: Promise<void>;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res) => {
      const conn: SseConnection = {
        status: res.statusCode ?? 0,
        headers: res.headers,
        frames: [],
        comments: [],
        body: '',
        until: (pred, timeoutMs = 10_000) =>
          new Promise((ok, fail) => {
            if (pred(conn.frames)) return ok(conn.frames);
            const timer = setTimeout(() => {
              res.off('data', check);
              fail(new Error(`SSE condition not met in ${timeoutMs} ms; frames: ${JSON.stringify(conn.frames.map((f) => f.id ?? f.event))}`));
            }, timeoutMs);
            const check = () => {
              if (pred(conn.frames)) {
                clearTimeout(timer);
                res.off('data', check);
                ok(conn.frames);
              }
            };
            res.on('data', check);
          }),
        close: () => req.destroy(),
        pause: () => res.socket.pause(),
        resume: () => res.socket.resume(),
        ended: new Promise<void>((ok) => {
          res.on('close', () => ok());
        }),
      };
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        conn.body += chunk;
        buf += chunk;
        let sep: number;
        while ((sep = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const frame: SseFrame = {};
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) conn.comments.push(line.slice(1).trim());
            else {
              const c = line.indexOf(':');
              const field = c < 0 ? line : line.slice(0, c);
              const value = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
              if (field === 'retry') frame.retry = Number(value);
              else if (field === 'id' || field === 'event') frame[field] = value;
              else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
              any = true;
            }
          }
          if (any) conn.frames.push(frame);
        }
      });
      res.on('error', () => {});
      resolve(conn);
    });
    req.on('error', reject);
  });
}
