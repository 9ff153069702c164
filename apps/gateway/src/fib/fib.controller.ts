import { httpTraceContext, startTrace } from '@app/observability';
import { BadRequestException, Controller, Get, Req } from '@nestjs/common';
import {
  ApiBadGatewayResponse,
  ApiBadRequestResponse,
  ApiExcludeEndpoint,
  ApiGatewayTimeoutResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { callerDisconnectSignal } from './caller-disconnect.signal';
import { ErrorBodyDto } from './error-body.dto';
import { FibResultDto } from './fib-result.dto';
import { FibNPipe } from './fib-n.pipe';
import { FibService } from './fib.service';

@ApiTags('fib')
@Controller('fib')
export class FibController {
  constructor(
    private readonly fibService: FibService,
    private readonly fibN: FibNPipe,
  ) {}

  @Get(':n')
  @ApiOperation({ summary: 'fib(n), computed by a worker over RabbitMQ RPC' })
  @ApiParam({ name: 'n', description: 'non-negative decimal integer up to FIB_MAX_N', example: '30' })
  @ApiHeader({ name: 'X-Request-Id', required: false, description: 'echoed back; generated when absent' })
  @ApiOkResponse({ type: FibResultDto })
  @ApiBadRequestResponse({ type: ErrorBodyDto, description: 'n is not a decimal integer, or above FIB_MAX_N' })
  @ApiBadGatewayResponse({ type: ErrorBodyDto, description: 'the worker answered INTERNAL' })
  @ApiServiceUnavailableResponse({
    type: ErrorBodyDto,
    description:
      'no worker consuming, broker down or blocking publishers, or over RPC_MAX_IN_FLIGHT (with Retry-After)',
  })
  @ApiGatewayTimeoutResponse({ type: ErrorBodyDto, description: 'no reply within RPC_TIMEOUT_MS' })
  get(@Req() request: FastifyRequest<{ Params: { n: string } }>): Promise<FibResultDto> {
    // Parsed here rather than by a parameter pipe: Nest runs each pipe through a chain of promises per request.
    const n = this.fibN.transform(request.params.n);
    const trace = startTrace(request.raw, request.id);
    trace.n = n;
    return this.fibService.fib(n, trace, callerDisconnectSignal(request.raw.socket), httpTraceContext(request));
  }

  /** `/fib` and `/fib/` name no n: a malformed request, not a missing resource. */
  @Get()
  @ApiExcludeEndpoint()
  missing(): never {
    throw new BadRequestException('n is missing: GET /fib/{n}');
  }
}
