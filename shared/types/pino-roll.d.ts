// pino-roll ships no types; this is the part we use.
declare module 'pino-roll' {
  import type { DestinationStream } from 'pino';
  interface Options {
    file: string | (() => string);
    size?: string | number;
    frequency?: 'daily' | 'hourly' | number;
    limit?: { count?: number };
    mkdir?: boolean;
    extension?: string;
  }
  export default function build(options: Options): Promise<DestinationStream>;
}
