// Worker entry for test/io/fuzz.test.ts: Node 20 workers do not inherit tsx's loader, so register it here.
import { register } from 'tsx/esm/api';
register();
await import('./fuzz_cases.ts');
