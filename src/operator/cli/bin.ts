// The `warden` command's entry (bin/warden.cjs runs it, compiled or through tsx): one call, then exit.
import { main } from './main';

void main(process.argv.slice(2)).then((code) => process.exit(code));
