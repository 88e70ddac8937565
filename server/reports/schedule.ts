/** What a new report schedule may be: checked once, for the CLI and the API alike. */
import { z } from 'zod';

export const NewReport = z.object({
  every: z.enum(['weekly', 'monthly'], { message: 'expected weekly or monthly' }),
  site: z.string().min(1, 'expected the site name the agents report (--site)').max(128),
  email: z.array(z.string().max(320).regex(/^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/, 'expected an email address such as lead@clinic.example')).min(1, 'expected at least one --email ADDRESS').max(20),
}).strict();
export type NewReport = z.infer<typeof NewReport>;
