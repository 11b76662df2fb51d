import { z } from 'zod'

/** Downloader → holder on `/damselfly/data/1.0.0`: may the connection be plain? */
export const dataOfferRequest = z.object({
  /** This side's `--data-encryption`: records are plain only when both sides turned it off. */
  encrypt: z.boolean(),
  /** This side acks the block bytes it receives (`dataAck`), so the holder's next turn on another connection can wait for arrival. */
  acks: z.boolean().optional()
}).strict()
export type DataOfferRequest = z.infer<typeof dataOfferRequest>

const base64Of = (bytes: number): z.ZodString => z.string().length(Math.ceil(bytes / 3) * 4).regex(/^[A-Za-z0-9+/]+={0,2}$/)

/** Holder → downloader: where to connect, the token to present and the session secret. */
export const dataOfferResponse = z.union([
  z.object({
    ok: z.literal(true),
    /** The data port, on the IP address this libp2p connection reached the holder at. */
    port: z.number().int().min(1).max(65535),
    token: base64Of(16),
    secret: base64Of(32),
    encrypt: z.boolean(),
    /** The holder reads acks on this connection: send them. */
    acks: z.boolean().optional()
  }).strict(),
  z.object({ ok: z.literal(false), reason: z.enum(['busy', 'disabled']) }).strict()
])
export type DataOfferResponse = z.infer<typeof dataOfferResponse>

/** Downloader → holder on a data connection that agreed to acks: block bytes received in all. */
export const dataAck = z.object({ ack: z.number().int().min(0) }).strict()
export type DataAck = z.infer<typeof dataAck>
