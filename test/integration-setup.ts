import { RelayProcess } from './helpers/relay-process';

// A failed assertion must not leave a relay running (it would keep Jest from exiting).
afterAll(async () => {
  await RelayProcess.stopAll();
});
