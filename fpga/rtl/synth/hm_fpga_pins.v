// Synthesis wrapper for place-and-route only: the accelerator's ports are
// wider than a package's pins (~220 signals at 64 bits), so data and CSR
// words are shifted in over an 8-bit port and the outputs are folded to 8
// bits with XOR (every output bit stays live, nothing is optimised away).
// Adds about DW + 60 flip-flops, reported with the core in fpga/reports/.
`default_nettype none

module hm_fpga_pins #(
    parameter integer DW = 64,
    parameter integer AW = 9,
    parameter integer N_CONN = 4,
    parameter integer N_FUNC = 2,
    parameter integer N_QUEUE = 2,
    parameter integer N_REGION = 2,
    parameter integer QDEPTH_MAX = 4,
    parameter integer VARIANT_ID = 2
) (
    input  wire       clk,
    input  wire       rst,
    input  wire [7:0] din,
    input  wire       shift_data,
    input  wire       shift_csr,
    input  wire       in_valid,
    input  wire       in_last,
    output wire       in_ready,
    output wire       out_valid,
    input  wire       out_ready,
    output wire       out_last,
    output reg  [7:0] dout,
    input  wire       csr_valid,
    input  wire       csr_write,
    output wire       idle,
    output wire       pkt_done
);
    reg [DW-1:0] in_data;
    reg [43:0] csr_word; // {addr[11:0], wdata[31:0]}
    wire [DW-1:0] out_data;
    wire [31:0] csr_rdata;
    wire [7:0] csr_err, pkt_status;

    always @(posedge clk) begin
        if (shift_data) in_data <= {in_data[DW-9:0], din};
        if (shift_csr) csr_word <= {csr_word[35:0], din};
    end

    reg [7:0] fold;
    integer i;
    always @* begin
        fold = csr_rdata[7:0] ^ csr_rdata[15:8] ^ csr_rdata[23:16] ^ csr_rdata[31:24] ^ csr_err ^ pkt_status;
        for (i = 0; i < DW / 8; i = i + 1) fold = fold ^ out_data[i*8 +: 8];
    end
    always @(posedge clk) dout <= fold;

    hm_fpga #(
        .DW(DW), .AW(AW), .N_CONN(N_CONN), .N_FUNC(N_FUNC), .N_QUEUE(N_QUEUE),
        .N_REGION(N_REGION), .QDEPTH_MAX(QDEPTH_MAX), .VARIANT_ID(VARIANT_ID)
    ) core (
        .clk(clk), .rst(rst),
        .in_valid(in_valid), .in_ready(in_ready), .in_data(in_data), .in_last(in_last),
        .out_valid(out_valid), .out_ready(out_ready), .out_data(out_data), .out_last(out_last),
        .csr_valid(csr_valid), .csr_write(csr_write), .csr_addr(csr_word[43:32]),
        .csr_wdata(csr_word[31:0]), .csr_rdata(csr_rdata), .csr_err(csr_err),
        .idle(idle), .pkt_done(pkt_done), .pkt_status(pkt_status)
    );
endmodule

`default_nettype wire
